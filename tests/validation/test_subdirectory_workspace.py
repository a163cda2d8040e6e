"""A workspace below the repository root: checks, git facts and patches keep to that directory."""

from __future__ import annotations

from pathlib import Path

from server.scheduler.answer_checks import check_task_answer
from server.scheduler.validated import check_answer
from server.validation import ValidationOptions, apply_patch_in_worktree, validate_path
from tests.validation.helpers import base_env, make_repo, write_files

# Two projects in one repository; only `svc` is the workspace. `web` holds a syntax error and a
# failing test that must not leak into the report of `svc`.
MONOREPO = {
    "README.md": "monorepo\n",
    "svc/pyproject.toml": '[project]\nname = "svc"\nversion = "0"\n',
    "svc/calc.py": "def add(a, b):\n    return a - b\n",
    "svc/tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "web/pyproject.toml": '[project]\nname = "web"\nversion = "0"\n',
    "web/app.py": "def ok():\n    return 1\n",
    "web/tests/test_app.py": "def test_fails():\n    assert False\n",
}

FIX = """diff --git a/svc/calc.py b/svc/calc.py
--- a/svc/calc.py
+++ b/svc/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""


async def test_checks_and_git_facts_cover_only_the_subdirectory(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", MONOREPO)
    write_files(root, {
        "svc/calc.py": "import os\n\n\ndef add(a, b):\n    return a - b\n",  # changed, a new F401
        "svc/new.py": "x = 1\n",  # untracked
        "web/app.py": "def ok(:\n",  # changed outside the workspace
        "web/extra.py": "y = 2\n",  # untracked outside the workspace
    })
    report = await validate_path(
        root / "svc", ValidationOptions(checks=("syntax", "lint", "test"), changed_only=True), base_env=base_env()
    )
    assert [(p.path, p.language) for p in report.projects] == [(".", "python")]
    checks = {c.name: c for c in report.checks}
    assert checks["python-syntax"].status == "passed"  # web/app.py's syntax error is out of scope
    assert [(d.file, d.code) for d in checks["ruff"].diagnostics] == [("calc.py", "F401")]
    assert checks["pytest"].status == "failed"
    assert [d.file for d in checks["pytest"].diagnostics] == ["tests/test_calc.py"]
    git = report.git
    assert git is not None and git.repo_root == str(root.resolve())
    assert git.changed == ("calc.py",) and git.untracked == ("new.py",)
    assert (git.diff_stat.files, git.diff_stat.insertions, git.diff_stat.deletions) == (1, 3, 0)  # web left out


async def test_a_patch_made_at_the_repository_root_is_validated_in_the_workspaces_subdirectory(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", MONOREPO)
    env = base_env()
    async with await apply_patch_in_worktree(root / "svc", FIX, env=env) as handle:
        assert handle.workspace == handle.path / "svc"
        assert (handle.workspace / "calc.py").read_text().endswith("return a + b\n")
        report = await validate_path(handle.workspace, ValidationOptions(checks=("test",)), base_env=env)
    # Only svc's tests ran (web's failing test is outside the workspace), and the fix passes them.
    (pytest,) = report.checks
    assert pytest.project == "." and pytest.status == "passed" and report.passed
    # The user's tree is untouched.
    assert (root / "svc" / "calc.py").read_text().endswith("return a - b\n")


async def test_a_task_answer_for_a_subdirectory_workspace_is_checked_there_only(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", MONOREPO)
    verdict = await check_answer(
        f"Fixed:\n```diff\n{FIX}```\n", {"workspace": str(root / "svc"), "checks": ["test"]}, base_env()
    )
    assert verdict.passed, verdict.feedback  # web's failing test is not the task's business


# The same fix with its paths written from the workspace's folder, as the task's own words name them.
FIX_FROM_WORKSPACE = FIX.replace("svc/calc.py", "calc.py")
BLOCKS_FROM_WORKSPACE = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
NEW_FILE_FROM_WORKSPACE = "--- /dev/null\n+++ b/tests/test_more.py\n@@ -0,0 +1,2 @@\n+def test_more():\n+    assert True\n"


async def test_an_answer_naming_files_from_the_workspace_s_folder_is_the_change_it_means(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", MONOREPO)
    spec = {"workspace": str(root / "svc"), "checks": ["test"]}
    as_diff = await check_task_answer(f"```diff\n{FIX_FROM_WORKSPACE}```\n", spec, base_env())
    as_blocks = await check_task_answer(BLOCKS_FROM_WORKSPACE, spec, base_env())
    new_file = await check_task_answer(f"```diff\n{FIX_FROM_WORKSPACE}{NEW_FILE_FROM_WORKSPACE}```\n", spec, base_env())
    for verdict in (as_diff, as_blocks, new_file):
        assert verdict.passed, verdict.feedback
        assert verdict.patch is not None and "+++ b/svc/calc.py" in verdict.patch and "a/calc.py" not in verdict.patch
    assert new_file.patch is not None and "+++ b/svc/tests/test_more.py" in new_file.patch


async def test_a_path_the_repository_s_root_holds_is_taken_from_the_root(tmp_path: Path) -> None:
    # the answer is asked for paths from the root: where both places hold the file, the root's is meant
    root = make_repo(tmp_path / "repo", {**MONOREPO, "calc.py": "# the root's own calc.py\n"})
    spec = {"workspace": str(root / "svc"), "checks": ["test"]}
    for answer in (f"```diff\n{FIX_FROM_WORKSPACE}```\n", BLOCKS_FROM_WORKSPACE):
        verdict = await check_task_answer(answer, spec, base_env())
        assert verdict.status == "patch_failed" and "calc.py" in verdict.feedback, verdict.feedback
