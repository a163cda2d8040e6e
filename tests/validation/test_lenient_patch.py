"""Answers in the forms models write them: diffs git refuses, applied by their hunks' text (in a
plain folder, `apply_leniently`, and in a real temporary worktree, whose `applied_diff` git then
takes as is), and whole files under their paths (`whole_files_diff`), checked as the diff they make."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.errors import PatchApplyError
from server.scheduler.answer_checks import check_task_answer
from server.scheduler.validated import check_answer
from server.validation.lenient_patch import LenientPatchError, apply_leniently
from server.validation.whole_files import WholeFiles, whole_files_diff
from server.validation.worktree import apply_patch_in_worktree, apply_patch_to_tree
from tests.validation.helpers import base_env, make_repo

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = "from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
FIXED = CALC.replace("a - b", "a + b")

# Each fixes add(); each is refused by `git apply` as it stands.
SLOPPY = {
    "no trailing context": "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
                           "+    return a + b\n",
    "wrong line numbers and counts": "--- a/calc.py\n+++ b/calc.py\n@@ -40,7 +40,9 @@\n def add(a, b):\n"
                                     "-    return a - b\n+    return a + b\n \n \n def mul(a, b):\n",
    "no line numbers": "--- a/calc.py\n+++ b/calc.py\n@@ ... @@\n def add(a, b):\n-    return a - b\n"
                       "+    return a + b\n \n",
    "context without its indentation": "--- a/calc.py\n+++ b/calc.py\n@@ -1,4 +1,4 @@\n def add(a, b):\n"
                                       "-return a - b\n+    return a + b\n \n \n def mul(a, b):\n",
}


def _git_refuses(root: Path, diff: str) -> bool:
    done = subprocess.run(["git", "apply", "--check", "-"], cwd=root, input=diff.encode(), capture_output=True)
    return done.returncode != 0


@pytest.mark.parametrize("name", sorted(SLOPPY))
def test_a_diff_git_refuses_goes_in_by_its_hunks_text(tmp_path: Path, name: str) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC})
    assert _git_refuses(root, SLOPPY[name])
    assert apply_leniently(root, SLOPPY[name], strip=1) == ["calc.py"]
    assert (root / "calc.py").read_text() == FIXED


def test_a_kept_line_keeps_the_files_own_text(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(x):\n    if x:\n        return 1\n    return 0\n")
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n def f(x):\n  if x:\n-        return 1\n+        return 2\n"
    apply_leniently(tmp_path, diff, strip=1)
    assert (tmp_path / "m.py").read_text() == "def f(x):\n    if x:\n        return 2\n    return 0\n"


def test_a_loose_match_found_twice_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    text = "def f():\n    return 0\n\n\ndef g():\n    return 0\n"
    (tmp_path / "m.py").write_text(text)
    diff = ("--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
            "--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n-return 0\n+return 1\n")
    with pytest.raises(LenientPatchError, match="m.py: hunk 1"):
        apply_leniently(tmp_path, diff, strip=1)
    assert (tmp_path / "a.py").read_text() == "x = 1\n"  # the first file's hunk fitted, but nothing is written
    assert (tmp_path / "m.py").read_text() == text


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", ".git/config", "a/../../outside.py"])
def test_a_path_outside_the_tree_is_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    diff = f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+owned\n"
    with pytest.raises(LenientPatchError, match="outside the repository"):
        apply_leniently(root, diff, strip=0)
    assert not (tmp_path / "outside.py").exists()


def test_a_new_file_and_a_hunk_that_is_not_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("a = 1\n")
    apply_leniently(tmp_path, "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n", strip=1)
    assert (tmp_path / "pkg" / "new.py").read_text() == "x = 1\ny = 2\n"
    with pytest.raises(LenientPatchError, match="not in the file"):
        apply_leniently(tmp_path, "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-b = 1\n+b = 2\n", strip=1)


async def test_in_a_worktree_the_applied_diff_is_one_git_takes_as_it_is(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC})
    diff = SLOPPY["no trailing context"]
    with pytest.raises(PatchApplyError, match="does not apply"):
        await apply_patch_in_worktree(root, diff, env=base_env())  # strict unless asked
    async with await apply_patch_in_worktree(root, diff, env=base_env(), lenient=True) as handle:
        assert (handle.path / "calc.py").read_text() == FIXED
        assert handle.applied_diff is not None
        applied = handle.applied_diff
    assert not _git_refuses(root, applied)
    applied_to_tree = await apply_patch_to_tree(root, applied, base_commit=handle.base_commit, env=base_env())
    assert applied_to_tree.files == ("calc.py",)
    assert (root / "calc.py").read_text() == FIXED



async def test_a_large_applied_diff_comes_back_whole(tmp_path: Path) -> None:
    # A sloppy hunk and a new file of over 64 KB: the diff git writes of the result is read to its end.
    root = make_repo(tmp_path / "repo", {"calc.py": CALC})
    table = "".join(f"ROW_{i} = {i * i}\n" for i in range(6000))
    new_file = "--- /dev/null\n+++ b/table.py\n@@ -0,0 +1,6000 @@\n" + "".join("+" + line + "\n" for line in table.splitlines())
    async with await apply_patch_in_worktree(root, SLOPPY["no trailing context"] + new_file, env=base_env(),
                                             lenient=True) as handle:
        applied = handle.applied_diff
    assert applied is not None and applied.startswith("diff --git a/calc.py b/calc.py") and len(applied) > 65536
    assert not _git_refuses(root, applied)

async def test_a_validated_answer_with_a_sloppy_diff_passes_and_returns_the_diff_as_applied(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST})
    reply = f"The sign is wrong.\n\n```diff\n{SLOPPY['wrong line numbers and counts']}```\n"
    verdict = await check_answer(reply, {"workspace": str(root), "checks": ["test"]}, base_env())
    assert verdict.passed, verdict.report_json
    assert verdict.patch is not None and verdict.patch.startswith("diff --git a/calc.py b/calc.py")
    assert not _git_refuses(root, verdict.patch)
    wrong = reply.replace("a + b", "a * b")  # applies just as well, and the tests catch it
    assert not (await check_answer(wrong, {"workspace": str(root), "checks": ["test"]}, base_env())).passed


# -- answers given as whole files under their paths (server.validation.whole_files) -------------

async def test_an_answer_of_whole_files_under_their_paths_is_checked_as_the_diff_they_make(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST})
    spec = {"workspace": str(root), "checks": ["test"]}
    for header in ("### calc.py\n```python\n", "**calc.py**\n```python\n", "```python:calc.py\n"):
        reply = f"The sign was wrong. Full file:\n\n{header}{FIXED}```\n\nRun pytest to verify."
        verdict = await check_task_answer(reply, spec, base_env())
        assert verdict.passed, (header, verdict.report_json)
        assert verdict.patch is not None and not _git_refuses(root, verdict.patch)
    wrong = f"### calc.py\n```python\n{CALC.replace('a - b', 'a * b')}```\n"
    assert not (await check_task_answer(wrong, spec, base_env())).passed


async def test_a_block_showing_part_of_a_file_never_replaces_it(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST})
    snippet = "### calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"  # mul() would be lost
    whole = await whole_files_diff(root, "HEAD", snippet, base_env())
    assert whole.diff is None and whole.partial == ("calc.py",)
    verdict = await check_task_answer(snippet, {"workspace": str(root), "checks": ["test"]}, base_env())
    assert not verdict.passed and verdict.status == "no_patch"
    assert "only part of calc.py" in verdict.feedback
    quoting = "### calc.py (lines 1-6)\n```python\n" + CALC + "```\n"  # the code as shown: no change
    assert await whole_files_diff(root, "HEAD", quoting, base_env()) == WholeFiles(None)


async def test_whole_files_may_not_edit_protected_tests(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST})
    cheat = f"### test_calc.py\n```python\n{TEST.replace('== 5', '== -1')}```\n"
    spec = {"workspace": str(root), "checks": ["test"], "protected": ["test_calc.py"]}
    verdict = await check_task_answer(cheat, spec, base_env())
    assert not verdict.passed and verdict.status == "edits_tests"


async def test_whole_files_in_a_workspace_below_the_repository_root_use_paths_from_the_root(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"pkg/calc.py": CALC, "pkg/test_calc.py": TEST, "README.md": "x\n"})
    reply = f"### pkg/calc.py\n```python\n{FIXED}```\n"
    verdict = await check_task_answer(reply, {"workspace": str(root / "pkg"), "checks": ["test"]}, base_env())
    assert verdict.passed, verdict.report_json
    assert verdict.patch is not None and "+++ b/pkg/calc.py" in verdict.patch


def test_a_misremembered_context_line_at_a_hunks_edge_is_dropped_when_the_rest_fits_once(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    wrong_context = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,4 +1,4 @@\n def add(a, b):\n-    return a - b\n"
                     "+    return a + b\n \n # helpers\n")  # no "# helpers" line in the file
    apply_leniently(tmp_path, wrong_context, strip=1)
    assert (tmp_path / "calc.py").read_text() == FIXED
    (tmp_path / "twice.py").write_text("x = 1\ny = 2\n\nx = 1\ny = 3\n")
    ambiguous = "--- a/twice.py\n+++ b/twice.py\n@@ -1,2 +1,2 @@\n # setup\n-x = 1\n+x = 9\n"
    with pytest.raises(LenientPatchError, match="not in the file"):  # `x = 1` stands twice
        apply_leniently(tmp_path, ambiguous, strip=1)


def test_a_block_found_twice_goes_where_its_header_says_and_nowhere_without_a_number(tmp_path: Path) -> None:
    text = "def a():\n    x = 1\n    return x\n\n\ndef b():\n    x = 1\n    return x\n"
    (tmp_path / "m.py").write_text(text)
    second = "--- a/m.py\n+++ b/m.py\n@@ -7,2 +7,2 @@\n     x = 1\n-    return x\n+    return x + 1\n"  # no trailing context
    apply_leniently(tmp_path, second, strip=1)
    assert (tmp_path / "m.py").read_text() == text.replace("    return x\n", "    return x + 1\n").replace(
        "    return x + 1\n", "    return x\n", 1)
    (tmp_path / "m.py").write_text(text)
    with pytest.raises(LenientPatchError, match="not in the file"):
        apply_leniently(tmp_path, second.replace("@@ -7,2 +7,2 @@", "@@ ... @@"), strip=1)
    assert (tmp_path / "m.py").read_text() == text


async def test_a_markdown_file_given_whole_in_a_longer_fence_is_read_whole(tmp_path: Path) -> None:
    readme = "# Calc\n\n```python\nadd(1, 2)\n```\n"
    root = make_repo(tmp_path / "repo", {"calc.py": CALC, "README.md": readme})
    new = readme.replace("add(1, 2)", "add(2, 3)  # 5")
    whole = await whole_files_diff(root, "HEAD", f"### README.md\n````markdown\n{new}````\n", base_env())
    assert whole.partial == () and whole.diff is not None and "+add(2, 3)  # 5" in whole.diff
