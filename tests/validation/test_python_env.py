"""The Python a project's tests run with, and the code they import: a workspace member's tests run
with the repository's `.venv` (never one above the repository), a sibling member installed editable
is imported from the patched worktree, a project with only tox environments runs in the best one,
and a Django project without pytest runs its own `manage.py test`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from server.scheduler.validated import Verdict, check_answer
from server.validation import ValidationOptions, validate_path
from server.validation.python_env import tox_python
from tests.validation.helpers import base_env, make_repo, make_venv


def _diff(path: str, old: str, new: str) -> str:
    """A patch replacing the first line of `path`, `old`, with the lines of `new`."""
    added = "".join(f"+{line}\n" for line in new.splitlines())
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1,{len(new.splitlines())} @@\n-{old}\n{added}```"


def _test_check(verdict: Verdict) -> dict[str, Any]:
    (check,) = [c for c in json.loads(verdict.report_json)["checks"] if c["kind"] == "test" and c["status"] != "skipped"]
    return dict(check)


async def test_a_workspace_member_s_tests_run_with_the_repository_s_venv_but_never_one_above_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "outer" / "mono", {
        "pyproject.toml": '[tool.uv.workspace]\nmembers = ["packages/*"]\n',
        "packages/api/pyproject.toml": '[project]\nname = "api"\nversion = "0.1"\n',
        "packages/api/tests/test_api.py": "import venv_only\n\n\ndef test_venv():\n    assert venv_only.VALUE == 1\n",
        ".gitignore": ".venv/\n",
    })
    make_venv(repo / ".venv", {"venv_only.py": "VALUE = 1\n"})
    report = await validate_path(repo / "packages" / "api", ValidationOptions(checks=("test",), timeout_s=60),
                                 base_env=base_env())
    (check,) = report.checks
    assert check.command[0] == str(repo / ".venv" / "bin" / "python") and check.status == "passed", check.output_tail
    # a folder holding the repository is not the project's: its .venv is not used
    os.rename(repo / ".venv", tmp_path / "outer" / ".venv")
    report = await validate_path(repo / "packages" / "api", ValidationOptions(checks=("test",), timeout_s=60),
                                 base_env=base_env())
    (check,) = report.checks
    assert check.command[0] == sys.executable and check.status == "failed"


_FINDER = """import sys
from importlib.machinery import PathFinder
from pathlib import Path

MAPPING: dict[str, str] = {{'util_lib': {path!r}}}


class _Finder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in MAPPING:
            return PathFinder.find_spec(fullname, [str(Path(MAPPING[fullname]).parent)])
        return None


def install():
    sys.meta_path.append(_Finder)
"""


async def test_a_sibling_member_installed_editable_is_imported_from_the_patched_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ws", {
        "pyproject.toml": '[tool.uv.workspace]\nmembers = ["packages/*"]\n',
        "packages/api/pyproject.toml": '[project]\nname = "api"\nversion = "0.1"\n',
        "packages/api/src/api/__init__.py": ("from core_lib import normalize\nfrom util_lib import tag\n\n\n"
                                             "def register(email):\n    return tag(normalize(email))\n"),
        "packages/api/tests/test_api.py": ("from api import register\n\n\ndef test_register():\n"
                                           "    assert register(' Bob@X.COM ') == 'user:bob@x.com'\n"),
        "packages/core/src/core_lib/__init__.py": "def normalize(addr):\n    return addr.strip().lower()\n",
        "packages/util/src/util_lib/__init__.py": "def tag(text):\n    return 'user:' + text\n",
        ".gitignore": ".venv/\n",
    })
    make_venv(repo / ".venv", {  # as uv installs the members: a path .pth (Hatch), a setuptools finder
        "_editable_impl_core_lib.pth": f"{repo / 'packages' / 'core' / 'src'}\n",
        "__editable___util_lib_0_1_finder.py": _FINDER.format(path=str(repo / "packages" / "util" / "src" / "util_lib")),
        "__editable__.util_lib-0.1.pth": "import __editable___util_lib_0_1_finder; __editable___util_lib_0_1_finder.install()\n",
    })
    spec = {"workspace": str(repo / "packages" / "api"), "checks": ["test"]}
    core = "packages/core/src/core_lib/__init__.py"
    wrong_core = await check_answer(
        f"```diff\n--- a/{core}\n+++ b/{core}\n@@ -1,2 +1,2 @@\n def normalize(addr):\n-    return addr.strip().lower()\n"
        "+    return addr\n```", spec, base_env())
    wrong_util = await check_answer(_diff("packages/util/src/util_lib/__init__.py", "def tag(text):",
                                          "def tag(text, sep=':'):\n    return 'member' + sep + text"), spec, base_env())
    right = await check_answer(_diff("packages/util/src/util_lib/__init__.py", "def tag(text):",
                                     "def tag(text):  # the user's tag"), spec, base_env())
    tree = Path(json.loads(wrong_core.report_json)["workspace"]).parent.parent  # the worktree's root: its .venv
    assert _test_check(wrong_core)["command"][0] == str(tree / ".venv" / "bin" / "python")
    assert not wrong_core.passed and "'user: Bob@X.COM '" in wrong_core.feedback  # the patched core, not the checkout's
    assert not wrong_util.passed and "member:bob@x.com" in wrong_util.feedback
    assert right.passed, right.report_json


def _tox_env(tox: Path, name: str, files: dict[str, str] | None = None, *, pytest: bool = True) -> Path:
    make_venv(tox / name, files, pytest=pytest)
    return tox / name / "bin" / "python"


async def test_a_project_with_only_tox_environments_runs_its_tests_in_the_best_one(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "dates", {
        "tox.ini": "[tox]\nenvlist = py\n\n[testenv]\ndeps = pytest\ncommands = pytest\n",
        "dates/__init__.py": "import venv_only\n\n\ndef iso(y, m, d):\n    return f'{y}-{m:02}-{d:02}'\n",
        "tests/test_dates.py": "from dates import iso\n\n\ndef test_iso():\n    assert iso(2024, 3, 5) == '2024-03-05'\n",
        ".gitignore": ".tox/\n",
    })
    tox = repo / ".tox"
    best = _tox_env(tox, f"py{sys.version_info.major}{sys.version_info.minor}", {"venv_only.py": "VALUE = 1\n"})
    _tox_env(tox, "lint", pytest=False)  # the newest, without pytest
    spec = {"workspace": str(repo), "checks": ["test"]}
    body = "--- a/dates/__init__.py\n+++ b/dates/__init__.py\n@@ -4,2 +4,2 @@\n def iso(y, m, d):\n"
    wrong = await check_answer(f"```diff\n{body}-    return f'{{y}}-{{m:02}}-{{d:02}}'\n+    return f'{{y}}-{{d:02}}-{{m:02}}'\n```",
                               spec, base_env())
    right = await check_answer(f"```diff\n{body}-    return f'{{y}}-{{m:02}}-{{d:02}}'\n+    return f'{{y:04}}-{{m:02}}-{{d:02}}'\n```",
                               spec, base_env())
    assert _test_check(right)["command"][0] == str(best)
    assert right.passed, right.report_json  # it imports venv_only, which only that environment has
    assert not wrong.passed and "2024-05-03" in wrong.feedback  # the patched code ran


def test_the_best_tox_environment_has_pytest_then_the_server_s_python_version_then_a_plain_name(tmp_path: Path) -> None:
    from server.validation.checks_base import RunContext
    from server.validation.detect import Project

    def chosen() -> str | None:
        ctx = RunContext(workspace=tmp_path, env={}, deadline=0.0, scratch=tmp_path, changed=None)
        return tox_python(Project("python", tmp_path, ".", ()), ctx)

    def fake_env(name: str, *, pytest: bool) -> Path:
        (tmp_path / ".tox" / name / "bin").mkdir(parents=True)
        (tmp_path / ".tox" / name / "bin" / "python").symlink_to(sys.executable)
        (tmp_path / ".tox" / name / "lib" / "python3" / "site-packages" / ("pytest" if pytest else "flake8")).mkdir(
            parents=True)
        return tmp_path / ".tox" / name / "bin" / "python"

    assert chosen() is None
    fake_env("lint", pytest=False)
    fake_env(".pkg", pytest=True)  # tox's packaging environment
    assert chosen() == str(tmp_path / ".tox" / "lint" / "bin" / "python")
    older = fake_env("docs", pytest=True)
    assert chosen() == str(older)
    plain = fake_env("py3", pytest=True)
    assert chosen() == str(plain)
    named = fake_env(f"py{sys.version_info.major}{sys.version_info.minor}", pytest=True)
    fake_env("newest", pytest=True)
    assert chosen() == str(named)


_FAKE_DJANGO = {  # what of Django a manage.py and a test module use, running the tests as Django's runner does
    "django/__init__.py": "",
    "django/test.py": "from unittest import TestCase as SimpleTestCase, TestCase\n",
    "django/core/__init__.py": "",
    "django/core/management.py": (
        "import sys, unittest\n\n\ndef execute_from_command_line(argv):\n"
        "    assert argv[1:] == ['test', '--noinput'], argv\n"
        "    suite = unittest.defaultTestLoader.discover('.', pattern='test*.py')\n"
        "    sys.exit(not unittest.TextTestRunner().run(suite).wasSuccessful())\n"),
}


async def test_a_django_project_without_pytest_runs_its_tests_py_with_manage_py(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", {
        "manage.py": ("import os, sys\n\nif __name__ == '__main__':\n"
                      "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"
                      "    from django.core.management import execute_from_command_line\n"
                      "    execute_from_command_line(sys.argv)\n"),
        "shop/__init__.py": "", "shop/settings.py": "INSTALLED_APPS = ['catalog']\n",
        "catalog/__init__.py": "",
        "catalog/utils.py": "def with_vat(net):\n    return net * 12 // 10\n",
        "catalog/tests.py": ("from django.test import TestCase\n\nfrom catalog.utils import with_vat\n\n\n"
                             "class VatTests(TestCase):\n    def test_vat(self):\n        self.assertEqual(with_vat(1000), 1200)\n"),
        ".gitignore": ".venv/\n",
    })
    make_venv(repo / ".venv", _FAKE_DJANGO, pytest=False)
    spec = {"workspace": str(repo), "checks": ["test"], "checks_named": True}
    wrong = await check_answer(_diff("catalog/utils.py", "def with_vat(net):", "def with_vat(net):\n    return net"),
                               spec, base_env())
    right = await check_answer(_diff("catalog/utils.py", "def with_vat(net):", "def with_vat(net):  # 20 %"),
                               spec, base_env())
    check = _test_check(wrong)
    tree = Path(json.loads(wrong.report_json)["workspace"])
    assert check["command"] == [str(tree / ".venv" / "bin" / "python"), "manage.py", "test", "--noinput"]
    assert not wrong.passed and [(d["file"], d["message"]) for d in check["diagnostics"]] == [
        ("catalog/tests.py", "catalog.tests.VatTests.test_vat: AssertionError: 1000 != 1200")]
    assert right.passed, right.report_json
