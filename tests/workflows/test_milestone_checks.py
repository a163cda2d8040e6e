"""A milestone's items on a repository whose main branch already has a failing test: each item is
judged by what its patch breaks and by its own tests, which it must make pass, alone or on top of
the items it depends on (real git repositories, real pytest runs)."""

from __future__ import annotations

import json
from pathlib import Path

from server.scheduler.answer_checks import check_task_answer
from server.workflows.checklist import ChecklistItem, ItemCheck
from server.workflows.milestone import item_spec
from tests.validation.helpers import base_env, make_repo

FILES = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_calc.py": ("from calc import add, mul\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
                           "def test_mul():\n    assert mul(2, 3) == 6\n"),
    "tests/test_other.py": "def test_broken_on_main():\n    assert False\n",
}
FIX_ADD = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n def add(a, b):\n-    return a - b\n"
           "+    return a + b\n \n")
DOC_MUL = ("--- a/calc.py\n+++ b/calc.py\n@@ -5,2 +5,3 @@\n def mul(a, b):\n+    \"\"\"Product.\"\"\"\n"
           "     return a * b\n")


def _spec(repo: Path, tests: tuple[str, ...]) -> dict[str, object]:
    item = ChecklistItem(id="i", title="T", description="D", depends_on=(), check=ItemCheck(tests=tests))
    return item_spec(item, repo, 120.0)


async def test_an_item_passes_beside_a_test_broken_on_main_but_not_without_its_own_test(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", FILES)
    spec = _spec(repo, ("tests/test_calc.py::test_add",))
    fixed = await check_task_answer(f"```diff\n{FIX_ADD}```", spec, base_env())
    idle = await check_task_answer(f"```diff\n{DOC_MUL}```", spec, base_env())
    assert fixed.passed, fixed.report_json
    assert json.loads(fixed.report_json)["failing_before_the_patch"] == ["tests.test_other::test_broken_on_main"]
    # test_add failed before the patch too, but it is the item's own test: still failing fails the item
    assert not idle.passed
    assert "test_add" in idle.feedback


async def test_an_item_on_top_of_its_dependency_is_compared_with_the_commit_too(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", FILES)
    spec = {**_spec(repo, ("tests/test_calc.py::test_mul",)), "after_patches": [FIX_ADD]}
    verdict = await check_task_answer(f"```diff\n{DOC_MUL}```", spec, base_env())
    assert verdict.passed, verdict.report_json
    assert verdict.patch is not None and "Product." in verdict.patch and "a + b" not in verdict.patch


async def test_a_patch_that_breaks_again_what_its_dependency_fixed_fails_even_under_test_scope_new(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", FILES)
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new", "after_patches": [FIX_ADD]}
    undo = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n def add(a, b):\n-    return a + b\n"
            "+    return a - b\n \n")
    verdict = await check_task_answer(f"```diff\n{undo}```", spec, base_env())
    # test_add failed at the commit, but passes once the dependency's fix is in: failing again is new
    assert not verdict.passed, verdict.report_json
    assert "test_add" in verdict.feedback
    kept = await check_task_answer(f"```diff\n{DOC_MUL}```", spec, base_env())
    assert kept.passed, kept.report_json  # test_broken_on_main failed before both: still forgiven
    assert json.loads(kept.report_json)["failing_before_the_patch"] == ["tests.test_other::test_broken_on_main"]
    strict = await check_task_answer(f"```diff\n{DOC_MUL}```", {**spec, "test_scope": "all"}, base_env())
    assert not strict.passed  # "all": the old failure still counts, and is named as old
    assert json.loads(strict.report_json)["failing_before_the_patch"] == ["tests.test_other::test_broken_on_main"]
