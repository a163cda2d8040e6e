"""Opening the database: directories, pragmas, migrations recorded once, unwritable paths."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from server.errors import StoreError
from server.store import MIGRATIONS, Store


async def test_first_open_creates_parent_dirs_and_applies_every_migration_once(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    assert store.applied_migrations == [m.__name__ for m in MIGRATIONS]
    with sqlite3.connect(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert mode == "wal"


async def test_reopening_applies_nothing_and_keeps_the_data(db: str | Path) -> None:
    from tests.store.helpers import new_group, new_tasks, query

    first = await Store.open(db)
    group = await first.create_group(new_group(), new_tasks(2))
    await first.close()
    second = await Store.open(db)
    try:
        assert second.applied_migrations == []
        assert (await second.get_group(group.id)).name == "g"
    finally:
        await second.close()
    assert query(db, "SELECT count(*) FROM _migrations") == [(len(MIGRATIONS),)]


async def test_two_stores_opening_a_new_database_at_once_migrate_it_once(db: str | Path) -> None:
    import asyncio

    a, b = await asyncio.gather(Store.open(db), Store.open(db))
    try:
        # Each migration runs in its own transaction, so the two may share the work; never twice.
        applied = [*a.applied_migrations, *b.applied_migrations]
        assert sorted(applied) == sorted(m.__name__ for m in MIGRATIONS)
        assert a.applied_migrations == sorted(a.applied_migrations) and b.applied_migrations == sorted(b.applied_migrations)
    finally:
        await a.close()
        await b.close()


async def test_a_path_under_a_regular_file_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not-a-dir"):
        await Store.open(blocker / "pwm.db")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
async def test_a_read_only_directory_raises_store_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StoreError):
            await Store.open(ro / "pwm.db")
    finally:
        ro.chmod(0o700)


async def test_a_closed_store_raises_store_error(db: str | Path) -> None:
    store = await Store.open(db)
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.list_groups()


async def test_first_open_on_postgresql_creates_the_same_tables_and_records_every_migration(pg_url: str) -> None:
    from tests.store.helpers import query

    store = await Store.open(pg_url)
    await store.close()
    assert store.applied_migrations == [m.__name__ for m in MIGRATIONS]
    assert [r[0] for r in query(pg_url, "SELECT name FROM _migrations ORDER BY applied_at")] == store.applied_migrations
    tables = {r[0] for r in query(pg_url, "SELECT table_name FROM information_schema.tables"
                                          " WHERE table_schema = current_schema()")}
    with sqlite3.connect(":memory:") as mem:
        from server.store.migrations import apply_migrations

        mem.isolation_level = None
        apply_migrations(mem)
        sqlite_tables = {r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == sqlite_tables


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresq://x", "redis://localhost:6379"])
async def test_an_unsupported_database_url_is_a_clear_error_and_creates_no_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="not supported.*postgresql://"):
        await Store.open(url)
    assert os.listdir(tmp_path) == []


async def test_a_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    target = tmp_path / "x" / "pwm.db"
    store = await Store.open(f"sqlite://{target}")
    await store.close()
    assert target.is_file() and store.kind == "sqlite"
