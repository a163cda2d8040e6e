"""pytest as the test check runs it: a module that cannot be collected is known by its error, and a
change that does not compile fails the tests outright."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.scheduler.validated import check_answer
from tests.validation.helpers import base_env, make_repo

_CALC = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
    "calc/__init__.py": "",
    "calc/core.py": "def add(a, b):\n    return a + b\n",
    "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def _patch(path: str, old: str, new: str) -> str:
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n```"


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
