"""pytest as the test check runs it: a module that cannot be collected is known by its error, a
change that does not compile fails the tests outright, the project's own cache options work, and a
usage error of the project's configuration is not blamed on the patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.scheduler.validated import check_answer
from server.validation import ValidationOptions, validate_path
from server.validation.model import CheckResult
from tests.validation.helpers import base_env, make_repo

_CALC = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
    "calc/__init__.py": "",
    "calc/core.py": "def add(a, b):\n    return a + b\n",
    "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def _patch(path: str, old: str, new: str) -> str:
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n```"


async def _pytest_of(repo: Path) -> CheckResult:
    report = await validate_path(repo, ValidationOptions(checks=("test",), timeout_s=60), base_env=base_env())
    (check,) = report.checks
    return check


def _pytest(report_json: str) -> dict[str, Any]:
    (check,) = [c for c in json.loads(report_json)["checks"] if c["name"] == "pytest"]
    return dict(check)


async def test_a_module_that_fails_to_import_before_the_patch_and_otherwise_after_it_fails_the_patch(
        tmp_path: Path) -> None:
    # At the base commit the test module cannot be imported: a dependency is not installed.
    repo = make_repo(tmp_path / "calc", {**_CALC, "calc/core.py": "import not_installed_dep\ndef add(a, b):\n    return a + b\n"})
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}
    same = await check_answer(_patch("tests/test_core.py", "from calc.core import add", "from calc.core import add  # x"),
                              spec, base_env())
    other = await check_answer(_patch("calc/core.py", "import not_installed_dep", "from calc import missing_name"),
                               spec, base_env())
    assert same.passed, same.report_json  # the same error as before the patch: forgiven under "new"
    assert json.loads(same.report_json)["failing_before_the_patch"] == ["tests.test_core"]
    assert not other.passed  # another error: the patch's own
    (diag,) = _pytest(other.report_json)["diagnostics"]
    assert diag["code"] == "test-collection" and diag["file"] == "tests/test_core.py"
    assert diag["message"] == ("tests.test_core: collection failure: ImportError: cannot import name 'missing_name' "
                               "from 'calc' (calc/__init__.py) (calc/core.py:1)")  # no worktree path
    assert "ImportError: cannot import name 'missing_name'" in other.feedback


async def test_a_changed_file_that_does_not_compile_fails_the_tests_even_when_no_test_imports_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {**_CALC, "scripts/tool.py": "print(1)\n"})
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}
    broken = await check_answer(_patch("scripts/tool.py", "print(1)", "print(1"), spec, base_env())
    assert not broken.passed and broken.status == "failed"
    check = _pytest(broken.report_json)
    assert [(d["file"], d["line"], d["code"]) for d in check["diagnostics"]] == [
        ("scripts/tool.py", 1, "SyntaxError")]
    assert "do not compile" in str(check["output_tail"])
    fine = await check_answer(_patch("scripts/tool.py", "print(1)", "print(2)"), spec, base_env())
    assert fine.passed, fine.report_json


async def test_the_project_s_cache_options_work_and_the_cache_stays_out_of_its_tree(tmp_path: Path) -> None:
    opts = '[tool.pytest.ini_options]\naddopts = "--ff --nf --lf --sw"\n'
    repo = make_repo(tmp_path / "calc", {**_CALC, "pyproject.toml": _CALC["pyproject.toml"] + opts})
    check = await _pytest_of(repo)
    assert check.status == "passed", check.output_tail
    assert not list(repo.rglob(".pytest_cache"))
    # A project that turns the cache off under strict configuration gets no cache option it would call unknown.
    strict = '[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider --strict-config"\n'
    repo = make_repo(tmp_path / "strict", {**_CALC, "pyproject.toml": _CALC["pyproject.toml"] + strict})
    check = await _pytest_of(repo)
    assert check.status == "passed", check.output_tail


async def test_a_usage_error_of_the_project_s_configuration_is_not_the_patch_s_failure(tmp_path: Path) -> None:
    opts = '[tool.pytest.ini_options]\naddopts = "--cov=calc"\n'  # pytest-cov is not installed
    repo = make_repo(tmp_path / "calc", {**_CALC, "pyproject.toml": _CALC["pyproject.toml"] + opts})
    check = await _pytest_of(repo)
    assert check.status == "skipped" and "--cov=calc" in (check.skipped_reason or "")
    spec = {"workspace": str(repo), "checks": ["test"], "checks_named": True}
    verdict = await check_answer(_patch("calc/core.py", "def add(a, b):", "def add(a, b):  # sum"), spec, base_env())
    assert not verdict.passed and verdict.status == "unchecked" and verdict.feedback == ""
    assert "usage error" in (verdict.hint or "") and "not the patch's" in (verdict.hint or "")
    # the same error after a patch that wrote the option into the configuration is the patch's
    clean = make_repo(tmp_path / "clean", _CALC)
    edits = await check_answer(
        "```diff\n--- a/pyproject.toml\n+++ b/pyproject.toml\n@@ -3 +3,3 @@\n version = \"0.1\"\n"
        "+[tool.pytest.ini_options]\n+addopts = \"--cov=calc\"\n```", {**spec, "workspace": str(clean)}, base_env())
    assert not edits.passed and edits.status == "error"


async def test_a_conftest_that_cannot_be_loaded_is_a_failure_naming_its_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {**_CALC, "tests/conftest.py": "import not_installed_plugin\n"})
    check = await _pytest_of(repo)
    assert check.status == "failed"
    assert [(d.file, d.code, d.message) for d in check.diagnostics] == [
        ("tests/conftest.py", "test-collection", "tests/conftest.py: conftest could not be loaded: "
         "ModuleNotFoundError: No module named 'not_installed_plugin' (tests/conftest.py:1)")]
