"""Tests run by the standard library's runner, for a project whose Python has no pytest:
`python -m unittest discover`, or a Django project's own `python manage.py test` (its settings, its
test database). Each failing test is named as pytest's are, with the error it ended in; a test
module that could not be imported is known by that error too (`COLLECTION`).
"""

from __future__ import annotations

import re
from pathlib import Path

from server.validation.checks_base import PlannedCheck, RunContext, finish, rel_file, run_for
from server.validation.detect import Project
from server.validation.model import CheckResult, Diagnostic
from server.validation.py_tracebacks import cause_of
from server.validation.pytest_check import COLLECTION

__all__ = ["django_check", "parse_unittest", "unittest_check"]

_HEADER = re.compile(r"^(?P<kind>FAIL|ERROR): (?P<name>\S+) \((?P<where>[^)\s]+)\)", re.M)
_RULE = re.compile(r"^(?:={20,}|-{20,})$", re.M)
_FAILED = re.compile(r"^FAILED \((?P<counts>[^)]*)\)", re.M)
_COUNT = re.compile(r"\b(?:failures|errors)=(\d+)")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.M)
_IMPORT_FAILED = "unittest.loader._FailedTest"


def parse_unittest(text: str, project: Project, workspace: Path, top: Path) -> list[Diagnostic] | None:
    """A diagnostic per failing test of the runner's report; None when the runner's own count of
    failures and errors is not the number of tests named (nothing to compare test by test)."""
    diags = []
    for m in _HEADER.finditer(text):
        where, name, kind = m["where"], m["name"], m["kind"].lower()
        rule = _RULE.search(text, m.end())  # the line under the header
        end = _RULE.search(text, rule.end()) if rule else None
        body = text[rule.end() if rule else m.end():end.start() if end else len(text)]
        if where.startswith(_IMPORT_FAILED):
            test_id, code, said = name, COLLECTION, "could not be imported: "
        else:  # 3.11+ writes the whole id in brackets
            test_id, code, said = (where if where.endswith("." + name) else f"{where}.{name}"), f"test-{kind}", ""
        cause = cause_of(body, project.root, workspace, top) or kind
        # the test's own place: the first frame inside the workspace (the runner leaves its own out)
        frame = next((f for f in _FRAME.finditer(body) if not Path(rel_file(f["file"], project.root, workspace)).is_absolute()
                      and "site-packages" not in Path(f["file"]).parts), None)
        file = rel_file(frame["file"], project.root, workspace) if frame else None
        line = int(frame["line"]) if frame else None
        cause = cause.removesuffix(f" ({file}:{line})")  # raised where the diagnostic points
        diags.append(Diagnostic(file=file, line=line, severity="error", code=code,
                                message=f"{test_id}: {said}{cause}"[:500]))
    failed = _FAILED.search(text)
    counted = sum(int(n) for n in _COUNT.findall(failed["counts"])) if failed else 0
    return diags if counted == len(diags) else None


def _runner_check(name: str, project: Project, argv: list[str], env: dict[str, str]) -> PlannedCheck:
    check = PlannedCheck(name=name, kind="test", project=project, command=argv, tool_ids=(argv[0],))

    async def run(ctx: RunContext) -> CheckResult:
        proc = await run_for(check, ctx, argv, env=env)
        text = proc.stdout + "\n" + proc.stderr
        if "NO TESTS RAN" in text or re.search(r"^Ran 0 tests", text, re.M):
            return finish(check, proc, [], status="skipped", skipped_reason=f"{name} found no tests")
        diags = parse_unittest(text, project, ctx.workspace, ctx.top)
        if proc.truncated or diags is None:
            diags = []  # not every failure named: nothing to compare test by test
        return finish(check, proc, diags)

    check.run = run
    return check


def unittest_check(project: Project, python: str, env: dict[str, str]) -> PlannedCheck:
    """`python -m unittest discover` from the project's `tests` or `test` folder, else its root."""
    start = next((d for d in ("tests", "test") if (project.root / d).is_dir()), ".")
    return _runner_check("unittest", project, [python, "-m", "unittest", "discover", "-s", start, "-p", "test*.py"], env)


def django_check(project: Project, python: str, env: dict[str, str]) -> PlannedCheck:
    """A Django project's tests, as its `manage.py test` finds and runs them (`tests.py`, `test*.py`)."""
    return _runner_check("django-test", project, [python, "manage.py", "test", "--noinput"], env)
