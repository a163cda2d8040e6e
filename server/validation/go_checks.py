"""Go checks: `go build ./...` (binaries into a temporary directory), `go vet ./...`, and
`go test -json ./...` read from its event stream.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.validation.checks_base import (
    OUTPUT_TAIL_CHARS,
    PlannedCheck,
    RunContext,
    find_executable,
    finish,
    rel_file,
    run_for,
    skipped,
)
from server.validation.detect import Project
from server.validation.model import CheckKind, CheckResult, Diagnostic

__all__ = ["parse_go_positions", "parse_go_test_json", "plan_go"]

_POSITION = re.compile(r"^(?:vet: )?(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<msg>.*)$")


def parse_go_positions(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """`file.go:line:col: message` lines, as go build and go vet print them."""
    diags = []
    for line in text.splitlines():
        m = _POSITION.match(line.strip())
        if m:
            diags.append(
                Diagnostic(
                    file=rel_file(m["file"], base, workspace),
                    line=int(m["line"]),
                    column=int(m["col"]) if m["col"] else None,
                    severity="error",
                    message=m["msg"],
                )
            )
    return diags


def parse_go_test_json(text: str) -> list[Diagnostic]:
    """Failed tests (and failed packages without a test name) from `go test -json` events."""
    diags = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("Action") == "fail":
            name = "/".join(x for x in (event.get("Package"), event.get("Test")) if x)
            diags.append(Diagnostic(severity="error", code="test-failure", message=f"{name} failed"))
    return diags


def _event_outputs(text: str) -> list[str]:
    outputs = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("Output"), str):
            outputs.append(event["Output"])
    return outputs


def plan_go(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    if not (project.root / "go.mod").is_file():
        return []
    go = find_executable("go", project, ctx.env, ctx.workspace)
    specs: list[tuple[str, CheckKind, list[str]]] = [
        ("go-build", "build", ["build", "-o", "<tmp>", "./..."]),
        ("go-vet", "lint", ["vet", "./..."]),
        ("go-test", "test", ["test", "-json", "./..."]),
    ]
    checks: list[PlannedCheck] = []
    for name, kind, args in specs:
        if kind not in kinds:
            continue
        if go is None:
            checks.append(skipped(name, kind, project, "go is not installed"))
            continue
        checks.append(_make(name, kind, go, args, project))
    return checks


def _make(name: str, kind: CheckKind, go: str, args: list[str], project: Project) -> PlannedCheck:
    check = PlannedCheck(name=name, kind=kind, project=project, command=[go, *args], tool_ids=(go,))

    async def run(ctx: RunContext) -> CheckResult:
        out_dir = ctx.scratch / f"go-bin-{abs(hash(project.root))}"
        out_dir.mkdir(parents=True, exist_ok=True)
        argv = [go, *(str(out_dir) if a == "<tmp>" else a for a in args)]
        proc = await run_for(check, ctx, argv, stdout_cap=16 * 1024 * 1024)
        if kind == "test":
            result = finish(check, proc, parse_go_test_json(proc.stdout), parsed_stdout=True)
            printed = "".join(_event_outputs(proc.stdout))
            result.output_tail = (printed[-OUTPUT_TAIL_CHARS:] + "\n" + result.output_tail).strip()
            return result
        else:
            diags = parse_go_positions(proc.stderr, project.root, ctx.workspace)
        return finish(check, proc, diags)

    check.run = run
    return check
