"""A patch is checked with the project's own installed dependencies: its `node_modules` (the test
runner `npm test` calls) and its `.venv` (its packages, its editable install) reach the worktree,
the patched code is what the tests import, and nothing of it shows in the worktree's changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.agent.worktree import AgentWorkspace
from server.scheduler.validated import Verdict, check_answer
from server.validation.installed import cargo_target, conda_env, dependency_dirs, mirror
from server.validation.worktree import run_git
from tests.validation.helpers import base_env, make_repo

# What npm installs for a package with a command: its folder, and a link to the command in .bin.
_RUNNER = ("#!/usr/bin/env node\n"
           "const add = require(process.cwd() + '/calc.js');\n"
           "const ok = add(1, 2) === 3;\n"
           "console.log(ok ? 'ok 1 - adds' : 'not ok 1 - adds');\n"
           "console.log('not ok 2 - always broken');\n"
           "console.log('# fail ' + (ok ? 1 : 2));\n"
           "process.exit(1);\n")


def _node_repo(root: Path) -> Path:
    repo = make_repo(root, {"package.json": json.dumps({"name": "calc", "scripts": {"test": "fake-runner"}}),
                            "calc.js": "module.exports = (a, b) => a + b;\n", ".gitignore": "node_modules/\n"})
    package = repo / "node_modules" / "fake-runner"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "fake-runner", "bin": "cli.js"}))
    (package / "cli.js").write_text(_RUNNER)
    (package / "cli.js").chmod(0o755)
    (repo / "node_modules" / ".bin").mkdir()
    (repo / "node_modules" / ".bin" / "fake-runner").symlink_to("../fake-runner/cli.js")
    return repo


def _diff(path: str, old: str, new: str) -> str:
    return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n```"


async def test_npm_test_finds_the_checkout_s_installed_runner_and_the_old_failure_is_told_apart(tmp_path: Path) -> None:
    repo = _node_repo(tmp_path / "calc")
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}
    kept = await check_answer(_diff("calc.js", "module.exports = (a, b) => a + b;", "module.exports = (a, b) => b + a;"),
                              spec, base_env())
    broken = await check_answer(_diff("calc.js", "module.exports = (a, b) => a + b;", "module.exports = (a, b) => a - b;"),
                                spec, base_env())
    assert kept.passed, kept.report_json  # the runner ran: only the test failing before still fails
    assert json.loads(kept.report_json)["failing_before_the_patch"] == ["always broken failed"]
    assert not broken.passed
    (check,) = json.loads(broken.report_json)["checks"]
    assert [d["message"] for d in check["diagnostics"]] == ["adds failed", "always broken failed"]
    assert sorted(p.name for p in (repo / "node_modules").iterdir()) == [".bin", "fake-runner"]  # untouched


async def test_an_agent_s_worktree_has_the_dependencies_and_its_diff_does_not(tmp_path: Path) -> None:
    repo = _node_repo(tmp_path / "calc")
    async with await AgentWorkspace.create(repo, task_id="t1", env=base_env()) as ws:
        assert (ws.path / "node_modules" / "fake-runner" / "cli.js").read_text() == _RUNNER
        (ws.path / "calc.js").write_text("module.exports = (a, b) => b + a;\n")
        diff = await ws.diff()
        status = (await run_git(["status", "--porcelain"], ws.path, base_env())).stdout
    assert "calc.js" in diff and "node_modules" not in diff and "node_modules" not in status
    assert (repo / "node_modules" / "fake-runner" / "cli.js").is_file()  # removing the worktree left them


def _project_with_venv(root: Path) -> Path:
    """A src-layout project whose .venv alone has a module it imports, and its own editable install."""
    repo = make_repo(root, {
        "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
        "src/calc/__init__.py": "import venv_only\n\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        ".gitignore": ".venv/\n",
    })
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    (site,) = (repo / ".venv").glob("lib/python*/site-packages")
    (site / "venv_only.py").write_text("VALUE = 1\n")  # a dependency only the project's venv has
    (site / "_editable_calc.pth").write_text(f"{repo / 'src'}\n")  # `pip install -e .`: the checkout's src
    server_site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "pytest").is_dir()))
    (site / "_server_tools.pth").write_text(f"{server_site}\n")  # pytest itself, as the venv would have it
    (site / "pytest").symlink_to(server_site / "pytest")
    return repo


async def test_pytest_runs_with_the_project_s_venv_and_imports_the_patched_source(tmp_path: Path) -> None:
    repo = _project_with_venv(tmp_path / "proj")
    spec = {"workspace": str(repo), "checks": ["test"]}
    wrong = await check_answer("```diff\n--- a/src/calc/__init__.py\n+++ b/src/calc/__init__.py\n@@ -4,2 +4,2 @@\n"
                               " def add(a, b):\n-    return a + b\n+    return a - b\n```", spec, base_env())
    right = await check_answer("```diff\n--- a/src/calc/__init__.py\n+++ b/src/calc/__init__.py\n@@ -4,2 +4,2 @@\n"
                               " def add(a, b):\n-    return a + b\n+    return b + a\n```", spec, base_env())
    (check,) = [c for c in json.loads(wrong.report_json)["checks"] if c["name"] == "pytest"]
    assert ".venv/bin/python" in check["command"][0]
    # the test ran against the patch (an import failure or the unpatched checkout would read otherwise)
    assert not wrong.passed and "-1" in check["diagnostics"][0]["message"]
    assert right.passed, right.report_json


def test_dependency_folders_are_read_from_git_s_ignored_listing_and_mirrored_by_links(tmp_path: Path) -> None:
    listing = "node_modules/\0packages/a/node_modules/\0.venv/\0build/\0notes.txt\0node_modules/x/venv/\0tools/venv\0"
    assert dependency_dirs(listing) == ["node_modules", "packages/a/node_modules", ".venv", "tools/venv"]
    checkout, tree = tmp_path / "checkout", tmp_path / "tree"
    (checkout / "node_modules" / "pkg").mkdir(parents=True)
    (checkout / "node_modules" / "pkg" / "index.js").write_text("x")
    (checkout / "packages" / "a" / "node_modules").mkdir(parents=True)
    tree.mkdir()
    made = mirror(checkout, tree, ["node_modules", "packages/a/node_modules", ".venv"])
    assert made == ["node_modules"]  # the tree has no packages/a; the checkout no .venv
    assert (tree / "node_modules").is_dir() and not (tree / "node_modules").is_symlink()
    assert os.readlink(tree / "node_modules" / "pkg") == str(checkout / "node_modules" / "pkg")
    (tmp_path / "elsewhere" / "bin").mkdir(parents=True)  # a .venv that is a link to an environment elsewhere
    (checkout / ".venv").symlink_to(tmp_path / "elsewhere")
    assert mirror(checkout, tree, [".venv"]) == [".venv"] and (tree / ".venv" / "bin").is_dir()


def _npm_workspaces(root: Path) -> Path:
    """A monorepo of npm workspaces: packages/app's test uses packages/util through the link npm
    makes for it (`node_modules/@demo/util -> ../../packages/util`), and util's clamp is wrong."""
    repo = make_repo(root, {
        "package.json": json.dumps({"name": "mono", "private": True, "workspaces": ["packages/*"],
                                    "scripts": {"test": "npm test --workspaces --if-present"}}),
        "packages/util/package.json": json.dumps({"name": "@demo/util", "version": "1.0.0", "main": "index.js"}),
        "packages/util/index.js": "module.exports = (x, lo, hi) => Math.max(lo, Math.min(x, lo));\n",
        "packages/app/package.json": json.dumps({"name": "@demo/app", "version": "1.0.0",
                                                 "dependencies": {"@demo/util": "1.0.0"},
                                                 "scripts": {"test": "node --test"}}),
        "packages/app/test/volume.test.js": ("const test = require('node:test');\nconst assert = require('node:assert');\n"
                                             "const clamp = require('@demo/util');\n"
                                             "test('volume is clamped', () => assert.strictEqual(clamp(5, 0, 10), 5));\n"),
        ".gitignore": "node_modules/\n",
    })
    (repo / "node_modules" / "@demo").mkdir(parents=True)
    for name in ("util", "app"):
        (repo / "node_modules" / "@demo" / name).symlink_to(f"../../packages/{name}")
    return repo


async def test_a_workspace_package_is_imported_from_the_worktree_with_the_patch_not_from_the_checkout(
        tmp_path: Path) -> None:
    repo = _npm_workspaces(tmp_path / "mono")
    spec = {"workspace": str(repo), "checks": ["test"]}
    wrong_line = "module.exports = (x, lo, hi) => Math.max(lo, Math.min(x, lo));"
    fixed = await check_answer(_diff("packages/util/index.js", wrong_line,
                                     "module.exports = (x, lo, hi) => Math.max(lo, Math.min(x, hi));"), spec, base_env())
    still_wrong = await check_answer(_diff("packages/util/index.js", wrong_line, "module.exports = (x) => -x;"),
                                     spec, base_env())
    assert fixed.passed, fixed.report_json
    assert not still_wrong.passed, still_wrong.report_json
    assert os.readlink(repo / "node_modules" / "@demo" / "util") == "../../packages/util"  # the checkout's link as it was


async def test_a_test_runner_s_cache_is_written_in_the_worktree_not_in_the_checkout(tmp_path: Path) -> None:
    repo = _node_repo(tmp_path / "calc")
    cache = repo / "node_modules" / ".vite" / "vitest" / "results.json"  # what vitest keeps between runs
    cache.parent.mkdir(parents=True)
    cache.write_text("{}")
    (repo / "node_modules" / "fake-runner" / "cli.js").write_text(
        "#!/usr/bin/env node\nconst fs = require('fs');\n"
        "fs.mkdirSync('node_modules/.vite/vitest', {recursive: true});\n"
        "fs.writeFileSync('node_modules/.vite/vitest/results.json', '{\"written\": true}');\n"
        "console.log('ok 1 - cached');\n")
    verdict = await check_answer(_diff("calc.js", "module.exports = (a, b) => a + b;",
                                       "module.exports = (a, b) => b + a;"), {"workspace": str(repo), "checks": ["test"]},
                                 base_env())
    assert verdict.passed, verdict.report_json
    assert cache.read_text() == "{}"


def test_a_link_into_the_checkout_s_own_files_points_into_the_worktree_and_caches_are_not_mirrored(
        tmp_path: Path) -> None:
    checkout, tree = tmp_path / "checkout", tmp_path / "tree"
    modules = checkout / "node_modules"
    for folder in (".bin", ".pnpm/vitest@3/node_modules/vitest", ".prisma/client", ".vite/vitest", ".cache/babel",
                   ".vitest-cache", "tool-output", "@scope/lib", "@demo"):
        (modules / folder).mkdir(parents=True)
    (modules / ".vite" / "vitest" / "results.json").write_text("{}")
    (modules / ".eslintcache").write_text("{}")
    (modules / "tool-output" / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    (modules / "vitest").symlink_to(".pnpm/vitest@3/node_modules/vitest")  # pnpm's link into its store
    (modules / "@demo" / "util").symlink_to("../../packages/util")  # a workspace package
    (modules / "local-lib").symlink_to("../libs/local")  # a `file:` dependency
    (modules / ".bin" / "util-cli").symlink_to("../@demo/util/cli.js")
    (checkout / "packages" / "util").mkdir(parents=True)
    (checkout / "libs" / "local").mkdir(parents=True)
    tree.mkdir()
    assert mirror(checkout, tree, ["node_modules"]) == ["node_modules"]
    mirrored = tree / "node_modules"
    assert sorted(p.name for p in mirrored.iterdir()) == [
        ".bin", ".pnpm", ".prisma", "@demo", "@scope", "local-lib", "vitest"]  # no cache of a tool
    assert os.readlink(mirrored / "@demo" / "util") == str(tree / "packages" / "util")
    assert os.readlink(mirrored / "local-lib") == str(tree / "libs" / "local")
    assert os.readlink(mirrored / ".bin" / "util-cli") == str(tree / "packages" / "util" / "cli.js")
    assert os.readlink(mirrored / "vitest") == str(modules / "vitest")  # a link within the installed folder
    assert os.readlink(mirrored / ".pnpm") == str(modules / ".pnpm")
    assert os.readlink(mirrored / "@scope" / "lib") == str(modules / "@scope" / "lib")
    assert not (mirrored / ".bin").is_symlink() and not (mirrored / "@demo").is_symlink()


needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


@needs_cargo
async def test_a_rust_patch_builds_in_the_repository_s_shared_build_folder_not_in_its_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "crate", {
        "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        ".gitignore": "target/\n",
    })
    env = base_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    patch = ("```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,4 @@\n+/// Adds.\n"
             " pub fn add(a: i32, b: i32) -> i32 {\n     a + b\n }\n```")
    verdict = await check_answer(patch, {"workspace": str(repo), "checks": ["build"]}, env)
    assert verdict.passed, verdict.report_json
    shared = cargo_target(repo, env)
    assert shared.parent == tmp_path / "cache" / "parallel-work-manager" / "cargo-target"
    assert (shared / "debug").is_dir()  # where cargo built it: every attempt on this repository reuses it
    assert not (repo / "target").exists()  # nothing written into the checkout


OUTSIDE_ENV_TOOLS = {  # the tool, the files that name it, the arguments that print the environment's folder
    "poetry": ({"pyproject.toml": '[tool.poetry]\nname = "calc"\nversion = "0.1"\n', "poetry.lock": "# lock\n"},
               ["env", "info", "--path"]),
    "pipenv": ({"Pipfile": "[packages]\n"}, ["--venv"]),
    "hatch": ({"pyproject.toml": '[project]\nname = "calc"\n\n[tool.hatch.envs.default]\ndependencies = []\n'},
              ["env", "find"]),
}


def _project_with_env(root: Path, files: dict[str, str], venv: Path) -> Path:
    """A src-layout project whose environment (`venv`, outside it) holds a package only it has and
    the project itself, installed editable."""
    repo = make_repo(root / "proj", {
        **files,
        "src/calc/__init__.py": "import venv_only\n\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    })
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "venv_only.py").write_text("VALUE = 1\n")
    (site / "calc.pth").write_text(f"{repo / 'src'}\n")  # the tool installs the project itself, editable
    server_site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "pytest").is_dir()))
    (site / "_server_tools.pth").write_text(f"{server_site}\n")
    (site / "pytest").symlink_to(server_site / "pytest")
    return repo


def _outside_env_project(root: Path, tool: str) -> tuple[Path, Path]:
    """A project whose environment lives outside it, and a stand-in for its `tool` that names that
    environment only when asked in the project's own folder (as these tools find an environment by
    the project's path)."""
    files, args = OUTSIDE_ENV_TOOLS[tool]
    venv = root / "envs" / "calc-py3"
    repo = _project_with_env(root, files, venv)
    tools = root / "home" / ".local" / "bin"  # where pipx and Poetry's installer put it
    tools.mkdir(parents=True)
    (tools / tool).write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"if sys.argv[1:] == {args!r} and os.getcwd() == {str(repo.resolve())!r}:\n"
        f"    print({str(venv)!r})\nelse:\n    sys.exit(1)\n")
    (tools / tool).chmod(0o755)
    return repo, tools


async def _judge_wrong_and_right(repo: Path, env: dict[str, str]) -> tuple[Verdict, Verdict, dict[str, Any]]:
    """A patch that breaks `add` and one that keeps it, checked with the tests; the first's pytest check."""
    spec = {"workspace": str(repo), "checks": ["test"]}
    wrong = await check_answer("```diff\n--- a/src/calc/__init__.py\n+++ b/src/calc/__init__.py\n@@ -4,2 +4,2 @@\n"
                               " def add(a, b):\n-    return a + b\n+    return a - b\n```", spec, env)
    right = await check_answer("```diff\n--- a/src/calc/__init__.py\n+++ b/src/calc/__init__.py\n@@ -4,2 +4,2 @@\n"
                               " def add(a, b):\n-    return a + b\n+    return b + a\n```", spec, env)
    (check,) = [c for c in json.loads(wrong.report_json)["checks"] if c["name"] == "pytest"]
    return wrong, right, check


@pytest.mark.parametrize("tool", sorted(OUTSIDE_ENV_TOOLS))
async def test_a_project_s_tests_run_in_the_environment_its_tool_keeps_outside_it(tmp_path: Path, tool: str) -> None:
    repo, tools = _outside_env_project(tmp_path, tool)
    env = base_env(HOME=str(tools.parent.parent))  # not on PATH, as in a desktop client's environment
    wrong, right, check = await _judge_wrong_and_right(repo, env)
    assert check["command"][0] == str(tmp_path / "envs" / "calc-py3" / "bin" / "python")
    assert not wrong.passed and "-1" in check["diagnostics"][0]["message"]  # the patched code, with venv_only
    assert right.passed, right.report_json


@pytest.mark.parametrize("where", ["envs-folder", "listed", "prefix"])
async def test_a_conda_project_s_tests_run_in_the_environment_its_environment_yml_names(
        tmp_path: Path, where: str) -> None:
    home = tmp_path / "home"
    venv = {"envs-folder": home / "miniforge3" / "envs" / "calc-env",  # `conda env create` with miniforge
            "listed": tmp_path / "elsewhere" / "calc-env",  # made with -p somewhere; conda lists it
            "prefix": tmp_path / "elsewhere" / "by-prefix"}[where]
    spec = "name: calc-env\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n"
    if where == "prefix":
        spec += f"prefix: {venv}\n"
    repo = _project_with_env(tmp_path, {"environment.yml": spec}, venv)
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(
        f"{tmp_path / 'base'}\n" + (f"{venv}\n" if where == "listed" else ""))
    wrong, right, check = await _judge_wrong_and_right(repo, base_env(HOME=str(home)))
    assert check["command"][0] == str(venv / "bin" / "python")
    assert not wrong.passed and "-1" in check["diagnostics"][0]["message"]
    assert right.passed, right.report_json


def test_a_conda_environment_that_is_not_there_is_not_guessed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj", {"environment.yml": "name: 'calc-env'  # ours\n"})
    home = tmp_path / "home"
    (home / "anaconda3" / "envs" / "other-env" / "bin").mkdir(parents=True)
    assert conda_env(repo, base_env(HOME=str(home))) is None
    made = home / "anaconda3" / "envs" / "calc-env" / "bin"
    made.mkdir(parents=True)
    (made / "python").symlink_to(sys.executable)
    assert conda_env(repo, base_env(HOME=str(home))) == home / "anaconda3" / "envs" / "calc-env"


async def test_a_check_asked_for_whose_tool_is_not_on_the_server_s_path_says_where_it_looked(tmp_path: Path) -> None:
    repo = _node_repo(tmp_path / "calc")
    git_only = tmp_path / "git-only"  # npm only on the user's shell PATH, as under Claude Desktop
    git_only.mkdir()
    (git_only / "git").symlink_to(str(shutil.which("git")))
    env = base_env(PATH=str(git_only))
    verdict = await check_answer(_diff("calc.js", "module.exports = (a, b) => a + b;", "module.exports = (a, b) => b + a;"),
                                 {"workspace": str(repo), "checks": ["test"], "checks_named": True}, env)
    assert not verdict.passed and verdict.status == "unchecked"
    assert "npm is not installed" in (verdict.hint or "") and f"server's PATH ({git_only})" in (verdict.hint or "")


def _unittest_project(root: Path) -> Path:
    """A project with unittest tests (one broken on main) whose .venv has its dependency and no pytest."""
    repo = make_repo(root, {
        "pyproject.toml": '[project]\nname = "calc"\nversion = "0.1"\n',
        "calc.py": "import venv_only\n\n\ndef add(a, b):\n    return a + b\n",
        "tests/test_calc.py": ("import unittest\n\nfrom calc import add\n\n\nclass TestCalc(unittest.TestCase):\n"
                               "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
                               "    def test_broken_on_main(self):\n        self.fail('old')\n"),
        ".gitignore": ".venv/\n",
    })
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    (site,) = (repo / ".venv").glob("lib/python*/site-packages")
    (site / "venv_only.py").write_text("VALUE = 1\n")
    return repo


async def test_unittest_tests_run_in_the_project_s_venv_when_it_has_no_pytest(tmp_path: Path) -> None:
    repo = _unittest_project(tmp_path / "proj")
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}
    body = "--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n def add(a, b):\n-    return a + b\n"
    right = await check_answer(f"```diff\n{body}+    return b + a\n```", spec, base_env())
    wrong = await check_answer(f"```diff\n{body}+    return a - b\n```", spec, base_env())
    (check,) = [c for c in json.loads(wrong.report_json)["checks"] if c["name"] == "unittest"]
    assert check["command"][0].endswith(".venv/bin/python") and check["command"][1:4] == ["-m", "unittest", "discover"]
    assert right.passed, right.report_json  # the test broken on main is told apart
    assert json.loads(right.report_json)["failing_before_the_patch"] == ["test_calc.TestCalc.test_broken_on_main"]
    assert not wrong.passed and [(d["file"], d["message"]) for d in check["diagnostics"]] == [
        ("tests/test_calc.py", "test_calc.TestCalc.test_add: AssertionError: -1 != 3"),
        ("tests/test_calc.py", "test_calc.TestCalc.test_broken_on_main: AssertionError: old")]


needs_clippy = pytest.mark.skipif(shutil.which("cargo-clippy") is None, reason="clippy is not installed")


@needs_clippy
async def test_clippy_s_findings_from_before_a_patch_are_not_counted_under_lint_scope_new(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "crate", {
        "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": ("pub fn old() -> i32 {\n    let x = 5;\n    return x;\n}\n\n"
                       "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"),  # clippy: needless_return in old()
        ".gitignore": "target/\n",
    })
    env = base_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    doc = ("```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -5,3 +5,4 @@\n \n+/// Adds.\n"
           " pub fn add(a: i32, b: i32) -> i32 {\n     a + b\n```")
    warn = ("```diff\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -6,3 +6,4 @@\n pub fn add(a: i32, b: i32) -> i32 {\n"
            "-    a + b\n+    let s = a + b;\n+    return s;\n }\n```")
    kept = await check_answer(doc, {"workspace": str(repo), "checks": ["lint"]}, env)
    added = await check_answer(warn, {"workspace": str(repo), "checks": ["lint"]}, env)
    strict = await check_answer(doc, {"workspace": str(repo), "checks": ["lint"], "lint_scope": "all"}, env)
    assert kept.passed, kept.report_json
    (check,) = json.loads(added.report_json)["checks"]
    assert not added.passed and [(d["code"], d["line"]) for d in check["diagnostics"]] == [("clippy::needless_return", 8)]
    assert not strict.passed
