"""Tests that already fail before a patch: the same test checks run once in a clean worktree at the
patch's base commit, so a failure the patch did not cause can be told apart from one it did.

A failing test is known by its check, project, file and test id (pytest's `module::test`, cargo's
and go's test name); a test module that could not be imported (`COLLECTION`) by the error that
stopped it too, so a patch that turns an old import error into a syntax error has a new failure. A
failed test check that names no failing test (npm's plain exit code, a change that does not
compile) cannot be compared and is left as it is. Results are kept per repository, base
commit and workspace folder for the server's lifetime (a group's tasks share one base run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.validation.engine import ValidationOptions, validate_path
from server.validation.lint_new import new_findings
from server.validation.model import CheckResult, Diagnostic, ValidationReport, overall_status
from server.validation.pytest_check import COLLECTION
from server.validation.worktree import open_worktree

__all__ = ["Compared", "TestKey", "already_note", "compare_with_base", "failing_at_base", "failing_tests",
           "findings_at_base", "is_named", "judge_against_base", "lint_compared", "old_failures",
           "without_old_failures"]

TestKey = tuple[str, str, str, str]  # check name, project, file, test id (a collection error's: with its error)
_KEEP = 64
_KNOWN: OrderedDict[tuple[str, str, str], object] = OrderedDict()  # (kind of run, workspace, commit) -> result
# One lock per event loop and (workspace, commit): a lock belongs to the loop that first waits on it.
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, str], asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


def _test_id(message: str) -> str:
    """The test a failure's message names: what comes before its first ": " outside brackets
    (a parametrised pytest id may hold ": " inside its brackets)."""
    depth = 0
    for i, ch in enumerate(message):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == ":" and depth == 0 and message[i + 1:i + 2] == " ":
            return message[:i]
    return message


def _key(check: CheckResult, d: Diagnostic) -> TestKey:
    return (check.name, check.project, d.file or "", d.message if d.code == COLLECTION else _test_id(d.message))


def _failed_tests(check: CheckResult) -> list[Diagnostic] | None:
    """The failing tests a failed test check names; None when it names none (nothing to compare) or
    it failed for more than its tests (a compile error in one of its targets is never old)."""
    tests = [d for d in check.diagnostics if (d.code or "").startswith("test-")]
    other_errors = any(d.severity == "error" and not (d.code or "").startswith("test-") for d in check.diagnostics)
    if check.status != "failed" or not tests or other_errors or check.diagnostics_dropped:
        return None
    return tests


def failing_tests(report: ValidationReport) -> frozenset[TestKey] | None:
    """Every failing test of `report`'s test checks; None when a failed test check cannot be read
    test by test."""
    keys: set[TestKey] = set()
    for check in report.checks:
        if check.kind != "test" or check.status in ("passed", "skipped"):
            continue
        tests = _failed_tests(check)
        if tests is None:
            return None
        keys.update(_key(check, d) for d in tests)
    return frozenset(keys)


async def failing_at_base(workspace: Path, base_commit: str, *, timeout_s: float,
                          env: Mapping[str, str]) -> frozenset[TestKey] | None:
    """The tests failing at `base_commit` in `workspace`'s folder (None: unknown), run once per
    repository, commit and folder; concurrent callers share the one run."""
    async def tests(folder: Path) -> frozenset[TestKey] | None:
        return failing_tests(await validate_path(folder, ValidationOptions(
            checks=("test",), timeout_s=timeout_s, use_cache=False, source=workspace), base_env=env))

    found = await _once_at_base("test", workspace, base_commit, tests, env)
    return found if isinstance(found, frozenset) else None


async def findings_at_base(workspace: Path, base_commit: str, *, timeout_s: float,
                           env: Mapping[str, str]) -> dict[tuple[str, str], list[Diagnostic]] | None:
    """Every lint finding at `base_commit` in `workspace`'s folder, by (check, project) (None:
    unknown), once per repository, commit and folder, as `failing_at_base`."""
    async def lint(folder: Path) -> dict[tuple[str, str], list[Diagnostic]]:
        report = await validate_path(folder, ValidationOptions(
            checks=("lint",), timeout_s=timeout_s, use_cache=False, lint_scope="all", source=workspace), base_env=env)
        return {(c.name, c.project): list(c.diagnostics) for c in report.checks if c.kind == "lint"}

    found = await _once_at_base("lint", workspace, base_commit, lint, env)
    return found if isinstance(found, dict) else None


async def _once_at_base(what: str, workspace: Path, base_commit: str,
                        run: Callable[[Path], Awaitable[object]], env: Mapping[str, str]) -> object:
    """`run` on `workspace`'s folder in a clean worktree at `base_commit`, once per kind of run,
    repository, commit and folder (None when the base cannot be checked out or run)."""
    key = (what, str(workspace), base_commit)
    lock = _LOCKS.setdefault(asyncio.get_running_loop(), {}).setdefault(key, asyncio.Lock())
    async with lock:
        if key in _KNOWN:
            _KNOWN.move_to_end(key)
            return _KNOWN[key]
        found: object
        try:
            async with await open_worktree(workspace, base=base_commit, env=env) as handle:
                found = await run(handle.workspace)
        except Exception:  # a base that cannot be checked out or run: nothing is known
            found = None
        _KNOWN[key] = found
        locks = _LOCKS[asyncio.get_running_loop()]
        while len(_KNOWN) > _KEEP:
            gone, _ = _KNOWN.popitem(last=False)
            if gone in locks and not locks[gone].locked():
                del locks[gone]
        return found


async def lint_compared(report: ValidationReport, workspace: Path, base_commit: str, *, timeout_s: float,
                        env: Mapping[str, str]) -> ValidationReport:
    """`report` with the findings of its failed lint checks that were there at `base_commit` not
    counted (`lint_new.new_findings`: file, code and message; a check left with none passes). For
    the linters that cannot tell a change's findings apart by themselves (clippy, go vet: they lint
    a whole crate or package); ruff's and ESLint's checks under lint_scope "new" (named "-new")
    already did."""
    failed = [c for c in report.checks if c.kind == "lint" and c.status == "failed" and c.diagnostics
              and not c.name.endswith("-new")]
    if not failed:
        return report
    old = await findings_at_base(workspace, base_commit, timeout_s=timeout_s, env=env)
    if not old:
        return report
    checks: list[CheckResult] = []
    dropped = 0
    for check in report.checks:
        if check in failed:
            fresh = new_findings(old.get((check.name, check.project), []), check.diagnostics)
            dropped += len(check.diagnostics) - len(fresh)
            check = dataclasses.replace(check, diagnostics=fresh, status="failed" if fresh else "passed")
        checks.append(check)
    if not dropped:
        return report
    status = overall_status(checks)
    note = f"{dropped} lint finding(s) already there at the base commit are not counted"
    return dataclasses.replace(report, checks=checks, status=status, passed=status == "passed",
                               notes=[*report.notes, note])


def is_named(d: Diagnostic, names: Sequence[str]) -> bool:
    """Whether the failing test `d` is one of `names`: a test file, or a file and a test in it as
    pytest writes a node id (`tests/test_calc.py::test_add`, `...::TestCalc::test_add`)."""
    test = _test_id(d.message)
    for name in names:
        path, _, rest = name.partition("::")
        if d.file and path and (d.file == path or d.file.endswith("/" + path) or path.endswith("/" + d.file)):
            if not rest or test.endswith("::" + rest) or test.endswith("::" + rest.rpartition("::")[2]):
                return True
        elif not d.file and name == test:
            return True
    return False


def without_old_failures(report: ValidationReport, old: frozenset[TestKey],
                         required: Sequence[str] = ()) -> tuple[ValidationReport, list[str]]:
    """`report` with each test check whose every failing test is in `old` counted as passed, and
    the ids of the tests so forgiven; a check with one new failure, or one of the `required`
    tests (`is_named`) failing, stays failed as it was."""
    forgiven: list[str] = []
    checks: list[CheckResult] = []
    for check in report.checks:
        tests = _failed_tests(check) if check.kind == "test" else None
        if tests is not None and all(_key(check, d) in old and not is_named(d, required) for d in tests):
            forgiven.extend(_test_id(d.message) for d in tests)
            check = dataclasses.replace(check, status="passed")
        checks.append(check)
    if not forgiven:
        return report, []
    status = overall_status(checks)
    note = f"{len(forgiven)} test(s) failing at the base commit before the patch still fail: " + ", ".join(forgiven[:10])
    return dataclasses.replace(report, checks=checks, status=status, passed=status == "passed",
                               notes=[*report.notes, note]), forgiven


def old_failures(report: ValidationReport, old: frozenset[TestKey]) -> Sequence[str]:
    """The failing tests of `report` that `old` holds (already failing before the patch)."""
    out: list[str] = []
    for check in report.checks:
        tests = _failed_tests(check) if check.kind == "test" else None
        out.extend(_test_id(d.message) for d in tests or () if _key(check, d) in old)
    return out


@dataclass(frozen=True)
class Compared:
    """A report judged against the failures at the base commit."""

    report: ValidationReport  # under test_scope "new", with the old failures counted as passed
    forgiven: list[str]  # "new": the old failures that still fail
    already: list[str]  # "all": the failures that were there before (they still count)
    old_only: bool  # "all": nothing else fails


async def compare_with_base(report: ValidationReport, workspace: Path, base_commit: str, scope: str, *,
                            required: Sequence[str] = (), timeout_s: float,
                            env: Mapping[str, str]) -> Compared:
    """`report` (of a change to `workspace` at `base_commit`) judged by `scope`: "new" forgives a
    test failing before the change that still fails, unless it is `required`; "all" names them."""
    same = Compared(report, [], [], False)
    if report.passed or not failing_tests(report):
        return same
    old = await failing_at_base(workspace, base_commit, timeout_s=timeout_s, env=env)
    if not old:
        return same
    forgiving, forgivable = without_old_failures(report, old, required)
    if scope == "new":
        return Compared(forgiving, forgivable, [], False)
    return Compared(report, [], list(old_failures(report, old)), forgiving.passed)


async def judge_against_base(report: ValidationReport, workspace: Path, base_commit: str, *, lint_scope: str,
                             test_scope: str, required: Sequence[str] = (), timeout_s: float,
                             env: Mapping[str, str]) -> Compared:
    """`report` of a change to `workspace` at `base_commit`, judged against what failed there before
    it: lint findings that were there (`lint_compared`, under lint_scope "new"), then tests
    (`compare_with_base`). A change checked after its dependencies' patches has for its base a
    commit holding them (`server.scheduler.dependency_view.commit_on_top`), so a test one of them
    fixed and this change broke again fails here as it should."""
    if lint_scope == "new":
        report = await lint_compared(report, workspace, base_commit, timeout_s=timeout_s, env=env)
    return await compare_with_base(report, workspace, base_commit, test_scope, required=required,
                                   timeout_s=timeout_s, env=env)


def already_note(base_commit: str, already: Sequence[str]) -> str:
    """What a model is told of the failures that were there before its change ("" for none)."""
    if not already:
        return ""
    return (f"\n\nOf these, already failing at {base_commit[:12]}, before your change: " + ", ".join(already[:10])
            + ". Fix them only if the task is about them.")
