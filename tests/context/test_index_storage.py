"""How the context index stores and reuses what it read, on real repositories and SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.context import ContextOptions, close_indexes, render_selection, select_context
from server.context.analyse import analyse, analyse_stream
from server.context.index import SCHEMA_VERSION, index_path, index_version
from server.context.service import _open
from tests.context.helpers import FILES


def _matches(db: sqlite3.Connection, word: str) -> int:
    return int(db.execute("SELECT count(*) FROM chunk_fts WHERE chunk_fts MATCH ?", (f'"{word}"',)).fetchone()[0])


def test_a_file_that_leaves_the_index_leaves_its_full_text_rows_too(repo: Path, options: ContextOptions) -> None:
    cart = repo / "shop" / "cart.py"
    cart.write_text("def zebracrossing():\n    return 1\n")
    assert "zebracrossing" in render_selection(select_context(repo, "zebracrossing", [], 2000, options))
    index, _ = _open(repo, options)
    assert _matches(index.db, "zebracrossing") == 1
    cart.write_text("def giraffeneck():\n    return 2\n")
    sel = select_context(repo, "zebracrossing giraffeneck", [], 2000, options)
    assert "giraffeneck" in render_selection(sel) and "zebracrossing" not in render_selection(sel)
    # the old version is gone from the contentless full-text tables, not only hidden
    assert _matches(index.db, "zebracrossing") == 0
    chunks = index.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert index.db.execute("SELECT count(*) FROM chunk_fts_docsize").fetchone()[0] == chunks
    index.db.execute("INSERT INTO chunk_fts(chunk_fts) VALUES ('integrity-check')")
    # the chunk map kept up to date in memory is the one the database gives
    assert set(index.snapshot(None).definitions(["zebracrossing", "giraffeneck"])) == {"giraffeneck"}
    kept = index._meta()
    index._meta_cache = None
    assert index._meta() == kept


def test_an_unchanged_working_tree_is_answered_without_writing(repo: Path, options: ContextOptions) -> None:
    select_context(repo, "apply_discount", [], 2000, options)
    index, _ = _open(repo, options)
    writes = index.db.total_changes
    again = select_context(repo, "ShoppingCart total", [], 2000, options)
    assert index.db.total_changes == writes
    assert again.items and again.commit is None


def test_what_another_process_writes_to_the_index_is_noticed(repo: Path, options: ContextOptions) -> None:
    select_context(repo, "apply_discount", [], 2000, options)
    other = sqlite3.connect(index_path(options.cache_dir, repo))
    with other:  # another server dropped this working tree's snapshot
        other.execute("DELETE FROM snap_docs WHERE snap = 'worktree'")
        other.execute("DELETE FROM snaps WHERE key = 'worktree'")
    sel = select_context(repo, "apply_discount", [], 2000, options)
    assert sel.items[0].path == "shop/pricing.py"
    # the snapshot was made again rather than served from memory
    assert other.execute("SELECT count(*) FROM snap_docs WHERE snap = 'worktree'").fetchone()[0] > 0
    other.close()


def test_an_index_of_another_schema_version_is_rebuilt(repo: Path, options: ContextOptions) -> None:
    path = index_path(options.cache_dir, repo)
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript("CREATE TABLE docs(id INTEGER PRIMARY KEY, junk TEXT); PRAGMA user_version = 1;")
    old.close()
    sel = select_context(repo, "apply_discount", [], 2000, options)
    assert sel.items[0].path == "shop/pricing.py"
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == index_version()
    check.close()


def test_an_index_written_by_other_analysis_code_is_rebuilt_not_served(repo: Path, options: ContextOptions) -> None:
    # The stamp carries a digest of the analysis code beside the schema version, so code that
    # flags other chunks writes another stamp.
    assert index_version() // 10_000_000 == SCHEMA_VERSION and index_version() != SCHEMA_VERSION
    # An older version's rows: the canary key's chunk flagged clean (as a version that did not know
    # the key's shape would have). Served as they are, that chunk could be sent to a provider.
    select_context(repo, "aws key region", [], 2000, options)
    close_indexes()
    path = index_path(options.cache_dir, repo)
    old = sqlite3.connect(path)
    assert old.execute("SELECT count(*) FROM chunks WHERE secret = 1").fetchone()[0] > 0
    old.execute("UPDATE chunks SET secret = 0")
    old.execute(f"PRAGMA user_version = {index_version() + 1}")
    old.commit()
    old.close()
    select_context(repo, "aws key region", [], 2000, options)
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM chunks WHERE secret = 1").fetchone()[0] > 0
    assert check.execute("PRAGMA user_version").fetchone()[0] == index_version()
    check.close()


def test_files_analysed_in_worker_processes_equal_those_analysed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PWM_CONTEXT_WORKERS", "2")
    items = [(path, text.encode()) for path, text in FILES.items()] * 3 + [("shop/logo.bin", b"\x89PNG\x00\x00")]
    assert list(analyse_stream(items, min_files=1)) == [analyse(p, d) for p, d in items]
