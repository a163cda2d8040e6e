"""Go checks: `go build ./...` (binaries into a temporary directory), `go vet ./...`, and
`go test -json ./...` read from its event stream.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.validation.checks_base import (
    OUTPUT_TAIL_CHARS,
    LanguageSpec,
    PlannedCheck,
    RunContext,
    ToolStep,
    command_check,
    finish,
    match_lines,
    plan_tool_steps,
)
from server.validation.detect import Project
from server.validation.model import CheckKind, CheckResult, Diagnostic
from server.validation.procs import ProcResult

__all__ = ["LANGUAGE", "parse_go_positions", "parse_go_test_json", "plan_go"]

_POSITION = re.compile(r"^(?:vet: )?(?P<file>[^\s:][^:]*\.go):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<msg>.*)$")


def parse_go_positions(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """`file.go:line:col: message` lines, as go build and go vet print them."""
    return match_lines(_POSITION, text, base, workspace)


def _events(text: str) -> list[dict[str, object]]:
    """The JSON objects of a `go test -json` stream (other lines are ignored)."""
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def parse_go_test_json(text: str) -> list[Diagnostic]:
    """Failed tests (and failed packages without a test name) from `go test -json` events."""
    return [
        Diagnostic(severity="error", code="test-failure", message=f"{name} failed")
        for event in _events(text)
        if event.get("Action") == "fail"
        for name in ["/".join(str(x) for x in (event.get("Package"), event.get("Test")) if x)]
    ]


def _event_outputs(text: str) -> list[str]:
    return [out for event in _events(text) if isinstance(out := event.get("Output"), str)]


_STEPS = (
    ToolStep("go-build", "build", ("build", "-o", "<tmp>", "./...")),
    ToolStep("go-vet", "lint", ("vet", "./...")),
    ToolStep("go-test", "test", ("test", "-json", "./...")),
)


def plan_go(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    if not (project.root / "go.mod").is_file():
        return []
    return plan_tool_steps(project, ctx, kinds, "go", _STEPS, _make)


def _read(check: PlannedCheck, ctx: RunContext, proc: ProcResult) -> CheckResult:
    if check.kind != "test":
        return finish(check, proc, parse_go_positions(proc.stderr, check.project.root, ctx.workspace))
    result = finish(check, proc, parse_go_test_json(proc.stdout), parsed_stdout=True)
    printed = "".join(_event_outputs(proc.stdout))
    result.output_tail = (printed[-OUTPUT_TAIL_CHARS:] + "\n" + result.output_tail).strip()
    return result


def _make(project: Project, step: ToolStep, go: str) -> PlannedCheck:
    def argv(ctx: RunContext) -> list[str]:
        out_dir = ctx.scratch / f"go-bin-{abs(hash(project.root))}"
        out_dir.mkdir(parents=True, exist_ok=True)
        return [go, *(str(out_dir) if a == "<tmp>" else a for a in step.args)]

    return command_check(step.name, step.kind, project, [go, *step.args], _read, runtime_argv=argv)


LANGUAGE = LanguageSpec(name="go", markers=("go.mod",), suffixes=(".go",), plan=plan_go)
