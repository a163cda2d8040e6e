"""validate_path on a real Node project: `node --check` per file and the package's test script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.scheduler.validated import check_answer
from server.validation import ValidationOptions, validate_path
from tests.validation.helpers import base_env, make_repo


async def test_node_check_reports_the_syntax_error_with_file_line_and_column(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "repo",
        {
            "web/package.json": json.dumps({"name": "web", "scripts": {"test": "node test.js"}}),
            "web/test.js": "const assert = require('assert');\nassert.strictEqual(1 + 1, 2);\n",
            "web/src/ok.mjs": "export const a = 1;\n",
            "web/src/bad.js": "const a = 1;\nlet x = ;\n",
            "web/node_modules/dep/broken.js": "this is not javascript\n",
        },
    )
    report = await validate_path(tmp_path / "repo", ValidationOptions(timeout_s=60), base_env=base_env())
    assert [(p.language, p.path) for p in report.projects] == [("node", "web")]
    checks = {c.name: c for c in report.checks}

    node_check = checks["node-check"]
    assert node_check.status == "failed" and not report.passed
    assert [(d.file, d.line, d.column, d.code) for d in node_check.diagnostics] == [
        ("web/src/bad.js", 2, 9, "SyntaxError")
    ]
    assert "Unexpected token" in node_check.diagnostics[0].message

    npm_test = checks["npm-test"]
    assert npm_test.status == "passed" and npm_test.command[-1] == "test"


async def test_failing_test_script_fails_and_placeholder_script_is_skipped(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "repo",
        {
            "a/package.json": json.dumps({"scripts": {"test": "node -e \"process.exit(3)\""}}),
            "b/package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}}),
        },
    )
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("test",), timeout_s=60), base_env=base_env()
    )
    by_project = {c.project: c for c in report.checks}
    assert by_project["a"].status == "failed" and by_project["a"].exit_code != 0
    assert by_project["b"].status == "skipped"
    assert by_project["b"].skipped_reason == "package.json defines no test script"
    assert not any("no check ran" in note for note in report.notes)


async def test_typescript_without_tsc_is_skipped_not_failed(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {"tsconfig.json": "{}", "src/a.ts": "const a: number = 1;\n"})
    env = base_env()
    env["PATH"] = str(tmp_path / "no-tools")
    report = await validate_path(tmp_path / "repo", ValidationOptions(checks=("build",)), base_env=env)
    (tsc,) = report.checks
    assert tsc.name == "tsc" and tsc.status == "skipped" and "tsc" in (tsc.skipped_reason or "")
    assert report.passed
    assert any("no check ran" in note for note in report.notes)  # passed, and says nothing was checked


async def test_a_node_test_runner_s_failing_tests_are_named_so_old_ones_can_be_told_apart(tmp_path: Path) -> None:
    tests = ("const test = require('node:test');\nconst assert = require('node:assert');\n"
             "test('adds', () => { assert.strictEqual(1 + 1, 3); });\n"
             "test('muls', () => { assert.strictEqual(2 * 3, 6); });\n"
             "test('subs', () => { assert.strictEqual(3 - 1, 1); });\n")
    make_repo(tmp_path / "repo", {"package.json": json.dumps({"scripts": {"test": "node --test"}}),
                                  "test/ops.test.js": tests})
    report = await validate_path(tmp_path / "repo", ValidationOptions(checks=("test",), timeout_s=60),
                                 base_env=base_env())
    (npm_test,) = report.checks
    assert npm_test.status == "failed"
    assert [(d.code, d.message) for d in npm_test.diagnostics] == [("test-failure", "adds failed"),
                                                                   ("test-failure", "subs failed")]
    assert "not ok 1 - adds" in npm_test.output_tail  # the runner's own words stay for the feedback


def test_failing_test_names_are_read_only_when_the_runner_s_count_matches() -> None:
    from server.validation.node_checks import failed_tests_of
    from server.validation.procs import ProcResult

    def run(stdout: str, truncated: bool = False) -> list[str]:
        proc = ProcResult(["npm", "test"], 1, stdout, "", truncated, False, False, 0.1)
        return [d.message for d in failed_tests_of(proc)]

    tap = "not ok 1 - adds\n  ---\n  ...\nok 2 - muls\nnot ok 3 - subs # a comment\n# fail 2\n"
    assert run(tap) == ["adds failed", "subs failed"]
    assert run(tap.replace("# fail 2", "# fail 3")) == []  # a failure not named: compare nothing
    assert run(tap, truncated=True) == []  # output cut: some failures may be missing
    jest = ("  ● Ops › adds\n\n    expect(received).toBe(expected)\n\n  ● Ops › subs\n\n"
            "Tests:       2 failed, 1 passed, 3 total\n")
    assert run(jest) == ["Ops › adds failed", "Ops › subs failed"]
    assert run("FAIL for some reason\n") == []


# Captured from real runs (mocha 12.0.3's spec reporter; vitest 4.1.12 with NO_COLOR, its
# summary on stdout and its failures on stderr), stack lines trimmed.
_MOCHA_OUT = """
  1) top level fails
  ops
    2) adds
    \u2714 muls
    nested
      3) subs: with colon


  1 passing (4ms)
  3 failing

  1) top level fails:
     Error: boom
      at Context.<anonymous> (test/ops.test.js:9:37)

  2) ops
       adds:

      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:

2 !== 3

  3) ops
       nested
         subs: with colon:

      AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
"""
_VITEST_OUT = """
 \u276f vt/ops.test.js (4 tests | 3 failed) 8ms
     \u00d7 adds 5ms
     \u2713 muls 0ms

 Test Files  2 failed (2)
      Tests  3 failed | 1 passed (4)
"""
_VITEST_ERR = """
\u23af\u23af\u23af Failed Tests 3 \u23af\u23af\u23af

 FAIL  vt/ops.test.js > ops > adds
AssertionError: expected 2 to be 3 // Object.is equality

 FAIL  vt/ops.test.js > ops > nested > subs > with arrow
AssertionError: expected 2 to be 1 // Object.is equality

 FAIL  vt/other.test.js > bad one
AssertionError: expected 1 to be 2 // Object.is equality
"""
_VITEST_BROKEN_FILE = """
\u23af\u23af\u23af Failed Suites 1 \u23af\u23af\u23af

 FAIL  vt/broken.test.js [ vt/broken.test.js ]
Error: Failed to load url ./nope.js (resolved id: ./nope.js) in /tmp/vt/broken.test.js.
"""


def _failed_names(stdout: str, stderr: str = "") -> list[str]:
    from server.validation.node_checks import failed_tests_of
    from server.validation.procs import ProcResult

    return [d.message for d in failed_tests_of(ProcResult(["npm", "test"], 1, stdout, stderr, False, False, False, 0.1))]


def test_mocha_s_failing_tests_are_named_by_their_full_titles() -> None:
    assert _failed_names(_MOCHA_OUT) == ["top level fails failed", "ops adds failed",
                                         "ops nested subs: with colon failed"]
    assert _failed_names(_MOCHA_OUT.replace("3 failing", "4 failing")) == []  # one not read: compare nothing


def test_vitest_s_failing_tests_and_unloadable_test_files_are_named() -> None:
    assert _failed_names(_VITEST_OUT, _VITEST_ERR) == ["vt/ops.test.js > ops > adds failed",
                                                       "vt/ops.test.js > ops > nested > subs > with arrow failed",
                                                       "vt/other.test.js > bad one failed"]
    # A test file that no longer loads is a failure of its own, so a patch breaking an import is not forgiven.
    assert _failed_names(_VITEST_OUT, _VITEST_BROKEN_FILE + _VITEST_ERR)[0] == "vt/broken.test.js [ vt/broken.test.js ] failed"
    assert _failed_names(_VITEST_OUT.replace("3 failed |", "4 failed |"), _VITEST_ERR) == []
    assert _failed_names(_VITEST_OUT, _VITEST_ERR.replace("Failed Tests 3", "Failed Suites 1 x Failed Tests 3")) == []
    coloured = _VITEST_ERR.replace(" FAIL ", "\x1b[41m\x1b[1m FAIL \x1b[22m\x1b[49m").replace(" > ", "\x1b[2m > \x1b[22m")
    assert _failed_names(_VITEST_OUT, coloured) == _failed_names(_VITEST_OUT, _VITEST_ERR)


# A stand-in for a project's eslint (node_modules/.bin/eslint, as npm installs it): one rule, no-var,
# with ESLint's JSON report, for files, a folder, or --stdin with --stdin-filename.
_FAKE_ESLINT = '''#!{python}
import json, os, sys
args = sys.argv[1:]
def lint(path, text):
    messages = [dict(ruleId="no-var", severity=2, line=i + 1, column=1,
                     message="Unexpected var, use let or const instead.")
                for i, line in enumerate(text.splitlines()) if line.lstrip().startswith("var ")]
    return dict(filePath=os.path.abspath(path), messages=messages)
if "--stdin" in args:
    reports = [lint(args[args.index("--stdin-filename") + 1], sys.stdin.read())]
else:
    paths = []
    for target in [a for a in args if not a.startswith("--") and a != "json"]:
        if os.path.isdir(target):
            paths += [os.path.join(d, f) for d, _, fs in os.walk(target) if "node_modules" not in d
                      for f in fs if f.endswith(".js")]
        else:
            paths.append(target)
    reports = [lint(p, open(p).read()) for p in sorted(paths)]
print(json.dumps(reports))
sys.exit(1 if any(r["messages"] for r in reports) else 0)
'''


async def test_eslint_new_scope_counts_only_the_findings_a_patch_adds(tmp_path: Path) -> None:
    import sys

    from server.scheduler.validated import check_answer

    repo = make_repo(tmp_path / "repo", {"package.json": json.dumps({"name": "x"}), ".gitignore": "node_modules/\n",
                                         "old.js": "var legacy = 1;\nmodule.exports = legacy;\n",
                                         "new.js": "const fresh = 2;\nmodule.exports = fresh;\n"})
    tool = repo / "node_modules" / ".bin" / "eslint"
    tool.parent.mkdir(parents=True)
    tool.write_text(_FAKE_ESLINT.replace("{python}", sys.executable))
    tool.chmod(0o755)

    def patch(path: str, old: str, new: str) -> str:
        return f"```diff\n--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n-{old}\n+{new}\n module.exports = {old.split()[1]};\n```"

    touch_old = patch("old.js", "var legacy = 1;", "var legacy = 1; // kept")
    add_var = patch("new.js", "const fresh = 2;", "var fresh = 2;")
    kept = await check_answer(touch_old, {"workspace": str(repo), "checks": ["lint"]}, base_env())
    added = await check_answer(add_var, {"workspace": str(repo), "checks": ["lint"]}, base_env())
    strict = await check_answer(touch_old, {"workspace": str(repo), "checks": ["lint"], "lint_scope": "all"}, base_env())
    assert kept.passed, kept.report_json  # old.js's var was there before the patch
    (check,) = json.loads(added.report_json)["checks"]
    assert not added.passed and check["name"] == "eslint-new"
    assert [(d["file"], d["code"], d["line"]) for d in check["diagnostics"]] == [("new.js", "no-var", 1)]
    assert not strict.passed  # lint_scope "all": every finding counts


def _node_test(name: str, ok: bool) -> str:
    return (f"const test = require('node:test');\nconst assert = require('node:assert');\n"
            f"test('{name}', () => assert.ok({str(ok).lower()}));\n")


@pytest.mark.parametrize("script", ["npm test --workspaces --if-present", "npm run test -ws"])
async def test_the_members_of_npm_workspaces_are_tested_once_by_the_root_s_script(tmp_path: Path, script: str) -> None:
    repo = make_repo(tmp_path / "mono", {
        "package.json": json.dumps({"name": "mono", "private": True, "workspaces": ["packages/*"],
                                    "scripts": {"test": script}}),
        "packages/a/package.json": json.dumps({"name": "a", "scripts": {"test": "node --test"}}),
        "packages/a/test/a.test.js": _node_test("a works", True),
        "packages/b/package.json": json.dumps({"name": "b", "scripts": {"test": "node --test"}}),
        "packages/b/test/b.test.js": _node_test("b is broken", False),
        "tools/gen/package.json": json.dumps({"name": "gen", "scripts": {"test": "node --test"}}),  # no member
        "tools/gen/test/gen.test.js": _node_test("gen works", True),
    })
    report = await validate_path(repo, ValidationOptions(checks=("test",), timeout_s=60), base_env=base_env())
    by_project = {c.project: c for c in report.checks}
    assert {p: c.status for p, c in by_project.items()} == {
        ".": "failed", "packages/a": "skipped", "packages/b": "skipped", "tools/gen": "passed"}
    assert by_project["packages/b"].skipped_reason == "run by the test script of its workspaces root, '.'"
    assert [d.message for d in by_project["."].diagnostics] == ["b is broken failed"]
    alone = await validate_path(repo / "packages" / "b", ValidationOptions(checks=("test",), timeout_s=60),
                                base_env=base_env())
    assert [c.status for c in alone.checks] == ["failed"]  # checked by itself, the root's script is not there
    patch = ("```diff\n--- a/packages/a/test/a.test.js\n+++ b/packages/a/test/a.test.js\n@@ -3 +3 @@\n"
             "-test('a works', () => assert.ok(true));\n+test('a works', () => assert.ok(1));\n```")
    verdict = await check_answer(patch, {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}, base_env())
    assert verdict.passed, verdict.report_json
    assert json.loads(verdict.report_json)["failing_before_the_patch"] == ["b is broken failed"]  # named once


async def test_the_members_a_pnpm_workspace_lists_are_left_to_the_root_s_recursive_test(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mono", {
        "package.json": json.dumps({"name": "mono", "private": True, "scripts": {"test": "pnpm -r test"}}),
        "pnpm-workspace.yaml": "packages:\n  - 'packages/*'  # every package\n  - '!packages/b'\n",
        "packages/a/package.json": json.dumps({"name": "a", "scripts": {"test": "node --test"}}),
        "packages/a/test/a.test.js": _node_test("a works", True),
        "packages/b/package.json": json.dumps({"name": "b", "scripts": {"test": "node --test"}}),
        "packages/b/test/b.test.js": _node_test("b works", True),
    })
    report = await validate_path(repo, ValidationOptions(checks=("test",), timeout_s=60), base_env=base_env())
    by_project = {c.project: c for c in report.checks}
    assert by_project["packages/a"].skipped_reason == "run by the test script of its workspaces root, '.'"
    assert by_project["packages/b"].status == "passed"  # excluded from the workspace: its own run
