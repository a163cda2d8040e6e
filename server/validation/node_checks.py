"""Node / TypeScript checks: `node --check` on each JavaScript file, `tsc --noEmit` when the
project uses TypeScript and has tsc, eslint's JSON report when the project has eslint, and the
package's own `test` script through npm (only when one is defined).

A member of npm, yarn or pnpm workspaces whose root's test script runs the members' (`npm test
--workspaces`, `-ws`, `yarn workspaces run test`, `pnpm -r test` without `--filter`) has its tests
run once, by the root: its own `npm-test` is skipped, naming the root, so a failure is neither
run nor listed twice.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from server.validation.checks_base import (
    LanguageSpec,
    PlannedCheck,
    RunContext,
    command_check,
    find_executable,
    finish,
    match_lines,
    rel_file,
    run_for,
    skipped,
)
from server.validation.detect import Project
from server.validation.lint_new import export_head_versions, new_findings
from server.validation.model import CheckKind, CheckResult, Diagnostic
from server.validation.procs import DEFAULT_STREAM_CAP, ProcResult

__all__ = ["LANGUAGE", "parse_node_check", "parse_tsc", "plan_node"]

_JS_SUFFIXES = (".js", ".mjs", ".cjs")
_TSC_LINE = re.compile(r"^(?P<file>.+?)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning) (?P<code>TS\d+): (?P<msg>.*)$")
_NPM_PLACEHOLDER = 'echo "Error: no test specified" && exit 1'
_NODE_CHECK_PARALLEL = 4


def parse_node_check(stderr: str, file: str) -> Diagnostic:
    """Read `node --check`'s report: `path:line`, the source line, a caret, then `XError: msg`."""
    lines = stderr.splitlines()
    line_no: int | None = None
    column: int | None = None
    message = "syntax error"
    code = "SyntaxError"
    for i, text in enumerate(lines):
        head = re.match(r"^(.*):(\d+)$", text)
        if line_no is None and head:
            line_no = int(head.group(2))
            if i + 2 < len(lines) and lines[i + 2].strip() == "^":
                column = lines[i + 2].index("^") + 1
        error = re.match(r"^(\w*Error): (.*)$", text)
        if error:
            code, message = error.group(1), error.group(2)
            break
    return Diagnostic(file=file, line=line_no, column=column, severity="error", code=code, message=message)


def parse_tsc(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    return match_lines(_TSC_LINE, text, base, workspace)


def _syntax_check(project: Project, ctx: RunContext) -> PlannedCheck:
    node = find_executable("node", project, ctx.env, ctx.workspace)
    files = [p for p in project.sources if p.name.endswith(_JS_SUFFIXES)]
    if ctx.changed is not None:
        files = [p for p in files if p in ctx.changed and p.is_file()]
    if not files:
        return skipped("node-check", "syntax", project, "no (changed) JavaScript files to check")
    if node is None:
        return skipped("node-check", "syntax", project, "node is not installed")
    rel = [p.relative_to(project.root).as_posix() for p in files]
    check = PlannedCheck(
        name="node-check", kind="syntax", project=project, command=[node, "--check", "<each file>"],
        tool_ids=(node,), cache_args=tuple(rel),
    )

    async def run(ctx: RunContext) -> CheckResult:
        gate = asyncio.Semaphore(_NODE_CHECK_PARALLEL)

        async def one(name: str) -> ProcResult:
            async with gate:
                # `node --check` only parses (it runs none of the project's code), and runs once per
                # file: the supervisor that catches daemonized descendants would only add its start-up.
                return await run_for(check, ctx, [node, "--check", name], supervise=False)

        procs = await asyncio.gather(*(one(name) for name in rel))
        diags = [
            parse_node_check(p.stderr, rel_file(name, project.root, ctx.workspace))
            for name, p in zip(rel, procs, strict=True)
            if p.exit_code not in (0, None)
        ]
        worst = next((p for p in procs if p.timed_out), None) or next(
            (p for p in procs if p.exit_code != 0), procs[0]
        )
        result = finish(check, worst, diags, failed=bool(diags))
        result.duration_s = round(max(p.duration_s for p in procs), 3)
        result.output_tail = (f"checked {len(rel)} files, {len(diags)} with errors\n" + result.output_tail).strip()
        return result

    check.run = run
    return check


def _tsc_check(project: Project, ctx: RunContext) -> PlannedCheck | None:
    uses_ts = "tsconfig.json" in project.markers or any(p.suffix in (".ts", ".tsx") for p in project.sources)
    if not uses_ts:
        return None
    tsc = find_executable("tsc", project, ctx.env, ctx.workspace)
    if tsc is None:
        return skipped("tsc", "build", project, "TypeScript compiler (tsc) is not installed")
    argv = [tsc, "--noEmit", "--pretty", "false"]
    if "tsconfig.json" not in project.markers:
        argv += [p.relative_to(project.root).as_posix() for p in project.sources if p.suffix in (".ts", ".tsx")]

    def read(check: PlannedCheck, ctx: RunContext, proc: ProcResult) -> CheckResult:
        return finish(check, proc, parse_tsc(proc.stdout + "\n" + proc.stderr, project.root, ctx.workspace))

    return command_check("tsc", "build", project, argv, read, stdout_cap=DEFAULT_STREAM_CAP)


def _eslint_check(project: Project, ctx: RunContext) -> PlannedCheck | None:
    # Only the project's own eslint: a global one would lint with someone else's rules.
    eslint = project.root / "node_modules" / ".bin" / "eslint"
    if not eslint.is_file():
        return None
    new_only = ctx.lint_scope == "new" and ctx.git is not None and ctx.git.head is not None
    targets = ["."]
    changed = ctx.git_changed if new_only else ctx.changed
    if changed is not None:
        targets = [p.relative_to(project.root).as_posix() for p in project.sources if p in changed and p.is_file()]
        if not targets:
            return skipped("eslint", "lint", project, "no changed JavaScript/TypeScript files to lint")
    argv = [str(eslint), "--format", "json", *targets]

    def read(check: PlannedCheck, ctx: RunContext, proc: ProcResult) -> CheckResult:
        diags = _eslint_findings(proc.stdout, project, ctx.workspace)
        if diags is None:
            return finish(check, proc, [], status=None if proc.timed_out else "error")
        return finish(check, proc, diags, failed=proc.exit_code != 0 or bool(diags), parsed_stdout=True)

    if not new_only:
        return command_check("eslint", "lint", project, argv, read, cache_args=tuple(targets))
    check = PlannedCheck(name="eslint-new", kind="lint", project=project, command=argv, tool_ids=(str(eslint),),
                         cache_args=("new", ctx.git.head or "" if ctx.git else "", *targets))

    async def run(ctx: RunContext) -> CheckResult:
        after = await run_for(check, ctx, argv)
        found = _eslint_findings(after.stdout, project, ctx.workspace)
        if found is None:
            return finish(check, after, [], status=None if after.timed_out else "error")
        before = await _eslint_at_head(check, ctx, str(eslint), targets)
        if before is None:
            return finish(check, after, [], status="error")
        fresh = new_findings(before, found)
        return finish(check, after, fresh, failed=bool(fresh), parsed_stdout=True)

    check.run = run
    return check


def _eslint_findings(stdout: str, project: Project, workspace: Path) -> list[Diagnostic] | None:
    """ESLint's JSON report as diagnostics; None when it is not one."""
    try:
        reports = json.loads(stdout or "[]")
    except ValueError:
        return None
    return [
        Diagnostic(
            file=rel_file(r.get("filePath", ""), project.root, workspace),
            line=m.get("line"),
            column=m.get("column"),
            severity="error" if m.get("severity") == 2 else "warning",
            code=m.get("ruleId"),
            message=str(m.get("message", "")),
        )
        for r in reports
        for m in r.get("messages", [])
    ]


async def _eslint_at_head(check: PlannedCheck, ctx: RunContext, eslint: str, targets: list[str]) -> list[Diagnostic] | None:
    """The findings in HEAD's version of each target, linted as if it stood at its path (`--stdin
    --stdin-filename`: the project's own configuration and plugins apply); a file new since HEAD has none."""
    assert ctx.git is not None
    project = check.project
    files = [project.root / t for t in targets]
    head_dir = ctx.scratch / f"eslint-head-{abs(hash(project.root))}"
    exported = await asyncio.to_thread(export_head_versions, ctx.git.repo_root, files, head_dir)
    found: list[Diagnostic] = []
    for copy in exported:
        path = project.root / copy.relative_to(head_dir / project.root.relative_to(ctx.git.repo_root))
        proc = await run_for(check, ctx, [eslint, "--format", "json", "--stdin", "--stdin-filename", str(path)],
                             stdin=copy.read_bytes())
        diags = _eslint_findings(proc.stdout, project, ctx.workspace)
        if diags is None:
            return None
        found += diags
    return found


def _package(folder: Path) -> dict[str, Any] | None:
    try:
        package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return package if isinstance(package, dict) else None


def _test_script(package: dict[str, Any]) -> str | None:
    scripts = package.get("scripts")
    script = scripts.get("test") if isinstance(scripts, dict) else None
    return script if isinstance(script, str) and script.strip() and script.strip() != _NPM_PLACEHOLDER else None


_RUNS_MEMBERS = re.compile(r"(?:^|\s)(?:--workspaces|-ws)(?=\s|$)|\byarn\s+workspaces\s+(?:run|foreach)\b"
                           r"|\bpnpm\s(?:[^;&|]*\s)?(?:-r|--recursive)(?=\s|$)")
_PNPM_PACKAGES = re.compile(r"^packages:\s*\n((?:[ \t]*(?:-.*|#.*)?\n?)*)", re.MULTILINE)
_YAML_ITEM = re.compile(r"^[ \t]*-[ \t]*(['\"]?)(?P<glob>[^'\"#\n]+?)\1[ \t]*(?:#.*)?$", re.MULTILINE)


def _members_root(project: Project, workspace: Path) -> Path | None:
    """The enclosing workspaces root (within `workspace`) whose test script runs the members' test
    scripts, `project` among its members; None when there is none."""
    for root in project.root.parents:
        if root != workspace and workspace not in root.parents:
            return None
        package = _package(root)
        script = _test_script(package) if package else None
        if (package and script and _RUNS_MEMBERS.search(script) and "--filter" not in script
                and _is_member(project.root, root, _member_globs(root, package))):
            return root
        if root == workspace:
            return None
    return None


def _member_globs(root: Path, package: dict[str, Any]) -> list[str]:
    """The workspaces a root lists: package.json's `workspaces` (npm, yarn's `{"packages": [...]}`)
    and pnpm-workspace.yaml's `packages`."""
    listed = package.get("workspaces")
    globs = listed.get("packages") if isinstance(listed, dict) else listed
    found = [g for g in globs if isinstance(g, str)] if isinstance(globs, list) else []
    try:
        pnpm = (root / "pnpm-workspace.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return found
    block = _PNPM_PACKAGES.search(pnpm)
    return found + ([m["glob"] for m in _YAML_ITEM.finditer(block[1])] if block else [])


def _is_member(folder: Path, root: Path, patterns: list[str]) -> bool:
    """Whether `folder` is one of the workspaces `patterns` (at `root`) list (globs; "!" excludes)."""
    parts = folder.relative_to(root).parts
    member = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = PurePosixPath(pattern.lstrip("!").removeprefix("./").rstrip("/")).parts
        if _glob_matches(parts, glob):
            member = not negated
    return member


def _glob_matches(parts: tuple[str, ...], glob: tuple[str, ...]) -> bool:
    """A path's parts against a glob's (`*` within one part, `**` any number of parts)."""
    if not glob:
        return not parts
    if glob[0] == "**":
        return any(_glob_matches(parts[i:], glob[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], glob[0]) and _glob_matches(parts[1:], glob[1:])


def _npm_test_check(project: Project, ctx: RunContext) -> PlannedCheck:
    package = _package(project.root)
    if package is None:
        return skipped("npm-test", "test", project, "no readable package.json")
    script = _test_script(package)
    if not script:
        return skipped("npm-test", "test", project, "package.json defines no test script")
    root = _members_root(project, ctx.workspace)
    if root is not None:
        return skipped("npm-test", "test", project, "run by the test script of its workspaces root, "
                       f"{root.relative_to(ctx.workspace).as_posix()!r}")
    npm = find_executable("npm", project, ctx.env, ctx.workspace)
    if npm is None:
        return skipped("npm-test", "test", project, "npm is not installed")
    return command_check(
        "npm-test", "test", project, [npm, "test"],
        lambda check, _ctx, proc: finish(check, proc, [] if proc.exit_code == 0 else failed_tests_of(proc)),
        stdout_cap=DEFAULT_STREAM_CAP, cache_args=(script,),
    )


_TAP_NOT_OK = re.compile(r"^\s*not ok \d+ - (?P<name>.+?)(?:\s+#\s.*)?$")  # a "# ..." directive is no part of it
_TAP_FAIL_COUNT = re.compile(r"^# fail (\d+)\s*$", re.MULTILINE)
_JEST_FAILED = re.compile(r"^\s*● (?P<name>.+?)\s*$")
_JEST_COUNT = re.compile(r"^Tests:\s+(\d+) failed", re.MULTILINE)
_MOCHA_COUNT = re.compile(r"^\s*(\d+) failing\s*$")
_MOCHA_ITEM = re.compile(r"^\s*(\d+)\) (?P<part>.+?)\s*$")
_VITEST_FAIL = re.compile(r"^\s*FAIL\s+(?P<name>.+?)\s*$")
_VITEST_COUNT = re.compile(r"^\s*Tests\s+(\d+) failed\b", re.MULTILINE)
_VITEST_SUITES = re.compile(r"Failed Suites (\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failed_tests_of(proc: ProcResult) -> list[Diagnostic]:
    """The failing tests a test script names, read from TAP (`node --test`, tap, ava), Jest's,
    mocha's (spec reporter) or vitest's report, one diagnostic each ("<test> failed"), so they
    can be compared with the failures at a patch's base commit; none when the output was cut or
    the count the runner prints does not match the names read (a comparison on part of the
    failures could forgive a new one)."""
    if proc.truncated:
        return []
    text = _ANSI.sub("", proc.stdout + "\n" + proc.stderr)
    lines = text.splitlines()
    for reader in (_tap_failures, _jest_failures, _mocha_failures, _vitest_failures):
        names = reader(text, lines)
        if names:
            return [Diagnostic(severity="error", code="test-failure", message=f"{name} failed") for name in names]
    return []


def _tap_failures(text: str, lines: list[str]) -> list[str]:
    tap = [m["name"].strip() for line in lines if (m := _TAP_NOT_OK.match(line))]
    counted = _TAP_FAIL_COUNT.findall(text)
    return tap if tap and counted and sum(int(c) for c in counted) == len(tap) else []


def _jest_failures(text: str, lines: list[str]) -> list[str]:
    jest = list(dict.fromkeys(m["name"] for line in lines if (m := _JEST_FAILED.match(line))))
    total = _JEST_COUNT.findall(text)
    return jest if jest and total and sum(int(c) for c in total) == len(jest) else []


def _mocha_failures(text: str, lines: list[str]) -> list[str]:
    """The spec reporter's closing list: "N failing", then "k) suite" lines down to the test's
    title, which ends in ":" (mocha's full title: the parts joined by spaces)."""
    start = next((i for i, line in enumerate(lines) if _MOCHA_COUNT.match(line)), None)
    if start is None:
        return []
    count = int(_MOCHA_COUNT.match(lines[start])[1])  # type: ignore[index]
    names: list[str] = []
    i = start + 1
    while i < len(lines):
        m = _MOCHA_ITEM.match(lines[i])
        if not m or int(m[1]) != len(names) + 1:
            i += 1
            continue
        parts = [m["part"]]
        while not parts[-1].endswith(":") and i + 1 < len(lines) and lines[i + 1].strip():
            i += 1
            parts.append(lines[i].strip())
        if not parts[-1].endswith(":"):
            return []  # not the shape read here: compare nothing
        parts[-1] = parts[-1][:-1]
        names.append(" ".join(parts))
        i += 1
    return names if names and len(names) == count else []


def _vitest_failures(text: str, lines: list[str]) -> list[str]:
    """`FAIL  file > suite > test` per failed test, and `FAIL  file [ file ]` per test file
    that did not load (named too: a patch that breaks a test file's import is a new failure)."""
    fails = list(dict.fromkeys(m["name"] for line in lines if (m := _VITEST_FAIL.match(line))))
    suites = [n for n in fails if n.endswith("]") and " [ " in n]
    tests = len(fails) - len(suites)
    counted = _VITEST_COUNT.findall(text)
    suites_counted = sum(int(c) for c in _VITEST_SUITES.findall(text))
    if not fails or sum(int(c) for c in counted) != tests or suites_counted != len(suites):
        return []
    return fails


def plan_node(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    checks: list[PlannedCheck | None] = []
    if "syntax" in kinds:
        checks.append(_syntax_check(project, ctx))
    if "build" in kinds:
        checks.append(_tsc_check(project, ctx))
    if "lint" in kinds:
        checks.append(_eslint_check(project, ctx))
    if "test" in kinds and "package.json" in project.markers:
        checks.append(_npm_test_check(project, ctx))
    return [c for c in checks if c is not None]


LANGUAGE = LanguageSpec(
    name="node",
    markers=("package.json", "tsconfig.json"),
    suffixes=(".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts"),
    plan=plan_node,
)
