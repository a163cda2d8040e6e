"""Patches: extract a model's diff, try it in a temporary worktree, apply it to the user's tree."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from server.errors import WorkspaceError
from server.validation import ValidationOptions, validate_path
from server.validation.worktree import (
    PatchApplyError,
    apply_patch_in_worktree,
    apply_patch_to_tree,
    diff_files,
    diff_stat,
    extract_unified_diff,
    patch_strip_level,
)
from tests.validation.helpers import base_env, commit_all, make_repo, write_files

CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FIX = """diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""


def _status(root: Path) -> str:
    with git.Repo(root) as repo:
        return str(repo.git.status("--porcelain"))


def test_extracts_a_fenced_diff_from_a_model_reply() -> None:
    reply = f"Here is the fix:\n\n```diff\n{FIX}```\n\nThis makes add() correct."
    assert extract_unified_diff(reply) == FIX


def test_extracts_a_raw_diff_and_stops_at_trailing_prose() -> None:
    body = FIX.split("\n", 1)[1]  # without the `diff --git` line
    reply = f"I changed one line.\n{body}\nLet me know if you need more."
    assert extract_unified_diff(reply) == body


def test_joins_several_fenced_diffs_and_ignores_other_fences() -> None:
    other = "--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    reply = f"```python\nprint('hi')\n```\n```diff\n{FIX}```\nand\n```patch\n{other}```"
    assert extract_unified_diff(reply) == FIX + other


def test_reply_without_a_diff_yields_none() -> None:
    assert extract_unified_diff("I could not find the bug, sorry.") is None
    assert extract_unified_diff("```python\nx = 1\n```") is None


def test_strip_level_follows_the_path_prefixes() -> None:
    assert patch_strip_level(FIX) == 1
    assert patch_strip_level("--- calc.py\n+++ calc.py\n@@ -1 +1 @@\n-a\n+b\n") == 0
    assert patch_strip_level("--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+a\n") == 1


async def test_patch_is_validated_in_a_worktree_and_the_users_tree_is_untouched(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST})
    write_files(root, {"notes.txt": "the user's own uncommitted work\n"})
    before = _status(root)

    async with await apply_patch_in_worktree(root, FIX, env=base_env()) as wt:
        assert wt.path != root and (wt.path / "calc.py").read_text() == CALC.replace("a - b", "a + b")
        report = await validate_path(wt.path, ValidationOptions(checks=("test",), timeout_s=60), base_env=base_env())
        assert report.passed, report.checks[0].output_tail
        worktree_path = wt.path

    assert not worktree_path.exists()
    assert (root / "calc.py").read_text() == CALC
    assert _status(root) == before
    with git.Repo(root) as repo:
        assert len(repo.git.worktree("list").splitlines()) == 1


async def test_patch_that_does_not_apply_raises_gits_message_and_leaves_no_worktree(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": "something else\n"})
    with pytest.raises(PatchApplyError, match="does not apply"):
        await apply_patch_in_worktree(root, FIX, env=base_env())
    with git.Repo(root) as repo:
        assert len(repo.git.worktree("list").splitlines()) == 1
    with pytest.raises(PatchApplyError, match="empty"):
        await apply_patch_in_worktree(root, "  \n", env=base_env())


async def test_a_patch_made_against_uncommitted_changes_is_refused_saying_so(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "other.py": "x = 1\n"})
    (root / "calc.py").write_text("def add(a, b):\n    return b - a\n")  # the user's edit, not committed
    made_on_the_edit = FIX.replace("-    return a - b", "-    return b - a")
    with pytest.raises(PatchApplyError) as refused:
        await apply_patch_in_worktree(root, made_on_the_edit, env=base_env(), lenient=True)
    assert "calc.py has uncommitted changes in" in str(refused.value)
    assert "the committed tree" in str(refused.value)
    (root / "calc.py").write_text(CALC)  # a file unchanged since the commit: no such note
    (root / "other.py").write_text("x = 2\n")
    with pytest.raises(PatchApplyError) as plain:
        await apply_patch_in_worktree(root, made_on_the_edit, env=base_env())
    assert "uncommitted" not in str(plain.value)


async def test_apply_to_tree_applies_a_clean_patch_at_its_base(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC})
    with git.Repo(root) as repo:
        base = repo.head.commit.hexsha
    applied = await apply_patch_to_tree(root, FIX, base_commit=base, env=base_env())
    assert applied.files == ("calc.py",) and applied.head == base
    assert "a + b" in (root / "calc.py").read_text()


async def test_apply_to_tree_refuses_a_dirty_tree(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "other.py": "x = 1\n"})
    with git.Repo(root) as repo:
        base = repo.head.commit.hexsha
    write_files(root, {"other.py": "x = 2\n"})
    with pytest.raises(WorkspaceError, match="dirty.*other.py"):
        await apply_patch_to_tree(root, FIX, base_commit=base, env=base_env())
    assert (root / "calc.py").read_text() == CALC


async def test_apply_to_tree_refuses_a_diverged_tree(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "other.py": "x = 1\n"})
    with git.Repo(root) as repo:
        base = repo.head.commit.hexsha
    write_files(root, {"other.py": "x = 2\n"})
    commit_all(root, "moved on")
    with pytest.raises(WorkspaceError, match="diverged"):
        await apply_patch_to_tree(root, FIX, base_commit=base, env=base_env())
    assert (root / "calc.py").read_text() == CALC


def test_a_fenced_diff_that_adds_a_markdown_fence_is_read_to_its_end() -> None:
    readme = ("--- a/README.md\n+++ b/README.md\n@@ -1,2 +1,5 @@\n # Title\n+```python\n+print(1)\n+```\n"
              " end\n")
    assert extract_unified_diff(f"Here:\n\n```diff\n{readme}```\n") == readme
    assert extract_unified_diff(f"````diff\n{readme}````\n\nDone.") == readme
    # A fence is closed only by a line of its own: inline backticks in prose open nothing.
    assert extract_unified_diff(f"Use ```diff``` blocks, so:\n```diff\n{FIX}```\n") == FIX


def test_a_removed_sql_comment_is_a_changed_line_not_a_file_header() -> None:
    # `-- old note` removed is written `--- old note`: not a file, and one deleted line
    diff = "--- a/q.sql\n+++ b/q.sql\n@@ -1,3 +1,2 @@\n SELECT 1;\n--- old note\n SELECT 2;\n"
    assert diff_files(diff) == ("q.sql",)
    assert diff_stat(diff) == {"files": 1, "insertions": 0, "deletions": 1}
    assert patch_strip_level("--- q.sql\n+++ q.sql\n@@ -1 +1 @@\n--- a/b note\n+-- new\n") == 0


async def test_a_non_ascii_path_is_named_as_it_is_in_the_diff_handed_back(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"café.py": "x = 1\ny = 2\nz = 3\n"})
    sloppy = "--- a/café.py\n+++ b/café.py\n@@ ... @@\n x = 1\n-y = 2\n+y = 20\n"  # git refuses it as written
    async with await apply_patch_in_worktree(root, sloppy, env=base_env(), lenient=True) as handle:
        applied = handle.applied_diff
    assert applied is not None and diff_files(applied) == ("café.py",)
    assert diff_stat(applied)["files"] == 1
