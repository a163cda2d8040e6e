"""The pytest check: run the project's tests with a JUnit XML report and read each failing test from
it, a module that could not be collected with the error that stopped it.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from server.validation.checks_base import PlannedCheck, RunContext, finish, rel_file, run_for
from server.validation.detect import Project
from server.validation.model import CheckResult, Diagnostic
from server.validation.py_tracebacks import cause_of, from_workspace

__all__ = ["COLLECTION", "parse_junit", "pytest_check"]

COLLECTION = "test-collection"  # a test module that could not be imported: known by its cause too
_TRACE_LINE = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+): \w+")


def parse_junit(path: Path, project: Project, workspace: Path, top: Path | None = None) -> list[Diagnostic]:
    """A diagnostic per failing test of a JUnit XML report (pytest's `xunit1`); a module that could not
    be collected is named with its error (`COLLECTION`). Paths of the run are written from `workspace`."""
    top = top or workspace
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return []
    diags = []
    for case in tree.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is None:
                continue
            where = case.get("file")
            line = case.get("line")
            test_id = "::".join(x for x in (case.get("classname"), case.get("name")) if x)
            text_lines = (node.text or "").strip().splitlines()
            message = node.get("message") or (text_lines[-1] if text_lines else tag)
            code = f"test-{tag}"
            if tag == "error" and message == "collection failure":
                code = COLLECTION
                message = f"{message}: {cause_of(node.text or '', project.root, workspace, top) or 'unknown error'}"
            line_no = int(line) + 1 if line and line.isdigit() else None  # JUnit lines are 0-based
            # The traceback's last "file:line: Error" in the test's own file is where it failed.
            for text in reversed(text_lines):
                m = _TRACE_LINE.match(text.strip())
                if m and where and Path(m["file"]).as_posix().endswith(Path(where).as_posix()):
                    line_no = int(m["line"])
                    break
            diags.append(
                Diagnostic(
                    file=rel_file(where, project.root, workspace) if where else None,
                    line=line_no,
                    severity="error",
                    code=code,
                    message=from_workspace(f"{test_id}: {message}", workspace, top)[:500],
                )
            )
    return diags


def pytest_check(project: Project, ctx: RunContext, python: str, tool_ids: tuple[str, ...],
                 env: dict[str, str]) -> PlannedCheck:
    """pytest run by `python` in the project with `env` (its PYTHONPATH already set)."""
    base = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1"]
    check = PlannedCheck(name="pytest", kind="test", project=project,
                         command=[*base, "--junitxml", "<tmp>/junit.xml"], tool_ids=tool_ids)

    async def run(ctx: RunContext) -> CheckResult:
        report = ctx.scratch / f"junit-{os.getpid()}-{abs(hash(project.root))}.xml"
        proc = await run_for(check, ctx, [*base, "--junitxml", str(report)], env=env)
        diags = parse_junit(report, project, ctx.workspace, ctx.top)
        if proc.exit_code == 5:
            return finish(check, proc, [], status="skipped", skipped_reason="pytest collected no tests")
        if proc.exit_code in (3, 4):
            return finish(check, proc, diags, status="error")
        return finish(check, proc, diags)

    check.run = run
    return check
