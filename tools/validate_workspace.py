"""The `validate_workspace` tool: check a project's syntax, build, lint and tests with its own
tools, inside the allowed roots, and return a structured, bounded report.

No call blocks longer than the server's `tool_time_limit_s` (45 s by default: clients cut tool
calls at about 60 s). A validation still running then answers with the checks finished so far,
`finished: false` and its `validation_id`; the caller waits on it again by passing that id (and
`wait_seconds`). While a call waits, each finished check is sent as a progress notification
when the client sent a progress token."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server.errors import InputError
from server.validation.model import ALL_KINDS
from server.validation.roots import allowed_roots, confine_path, roots_from_uris
from tools._shared import app_state, expected_errors

if TYPE_CHECKING:  # the runners load when a validation first runs, not with the tool list
    from server.validation import ValidationReport, ValidationRun

__all__ = [
    "CheckOut",
    "DiagnosticOut",
    "GitFactsOut",
    "ProjectOut",
    "ValidateWorkspaceInput",
    "ValidateWorkspaceResult",
    "client_roots",
    "register",
    "report_to_output",
    "run_to_output",
    "validate_workspace",
]

log = logging.getLogger(__name__)

Kind = Literal["syntax", "build", "lint", "test"]

_PATH = "Directory inside the allowed roots (absolute or relative to the first root)."
_CHECKS = "Default: all that apply."
_CHANGED = "Syntax and lint only on files changed against HEAD or untracked."
_SCOPE = "'new': only lint findings the uncommitted change introduced."
_TIMEOUT = "Seconds for all checks; one still running then is killed (timed_out)."
_CACHE = "Reuse results whose inputs (files, tool, arguments) are unchanged."
_ID = "Wait on the validation an earlier call returned unfinished (same path)."
_WAIT = ("Longest wait before answering with what finished so far; default and cap: the server's "
         "tool_time_limit_s, 45 s (clients cut calls at ~60 s).")


class ValidateWorkspaceInput(BaseModel):
    path: str = Field(description=_PATH, min_length=1)
    checks: list[Kind] | None = Field(default=None, description=_CHECKS)
    changed_only: bool = Field(default=False, description=_CHANGED)
    lint_scope: Literal["all", "new"] = Field(default="all", description=_SCOPE)
    timeout_s: float = Field(default=120.0, ge=1.0, le=1800.0, description=_TIMEOUT)
    use_cache: bool = Field(default=True, description=_CACHE)
    validation_id: str | None = Field(default=None, description=_ID, min_length=1, max_length=100)
    wait_seconds: float | None = Field(default=None, ge=0.0, description=_WAIT)

    @field_validator("checks")
    @classmethod
    def _dedupe(cls, value: list[Kind] | None) -> list[Kind] | None:
        if value is not None and not value:
            raise ValueError("pass at least one check, or omit the field for all that apply")
        return list(dict.fromkeys(value)) if value else value


def _no_titles(schema: dict[str, Any]) -> None:
    """Drop pydantic's generated titles: they repeat the names and cost every client context tokens."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class _Out(BaseModel):
    model_config = ConfigDict(json_schema_extra=_no_titles)


class DiagnosticOut(_Out):
    file: str | None
    line: int | None
    column: int | None
    severity: str
    code: str | None
    message: str


class CheckOut(_Out):
    name: str
    kind: Kind
    project: str
    language: str
    status: Literal["passed", "failed", "skipped", "timed_out", "error"] = Field(
        description="skipped: tool missing or nothing to check; timed_out: killed at the limit."
    )
    duration_s: float
    command: list[str]
    exit_code: int | None
    diagnostics: list[DiagnosticOut]
    diagnostics_dropped: int
    output_tail: str
    output_truncated: bool
    skipped_reason: str | None
    cached: bool


class DiffStatOut(_Out):
    files: int
    insertions: int
    deletions: int


class GitFactsOut(_Out):
    repo_root: str
    branch: str | None
    detached: bool
    head: str | None
    changed: list[str]
    untracked: list[str]
    diff_stat: DiffStatOut
    files_dropped: int


class ProjectOut(_Out):
    path: str
    language: str
    markers: list[str]


class ValidateWorkspaceResult(_Out):
    validation_id: str
    finished: bool = Field(description="false: still running; pass validation_id back to wait.")
    passed: bool
    status: Literal["passed", "failed", "timed_out", "error", "running"]
    workspace: str
    projects: list[ProjectOut]
    checks: list[CheckOut]
    pending: list[str]
    git: GitFactsOut | None
    duration_s: float
    notes: list[str]


def report_to_output(report: ValidationReport, validation_id: str = "") -> ValidateWorkspaceResult:
    return ValidateWorkspaceResult.model_validate(
        {**dataclasses.asdict(report), "validation_id": validation_id, "finished": True, "pending": []}
    )


def run_to_output(run: ValidationRun) -> ValidateWorkspaceResult:
    """The report when the run is over, else what finished so far."""
    if run.report is not None:
        return report_to_output(run.report, run.id)
    return ValidateWorkspaceResult.model_validate({
        "validation_id": run.id, "finished": run.finished, "passed": False,
        "status": "error" if run.failure else "running", "workspace": str(run.workspace),
        "projects": [dataclasses.asdict(p) for p in run.projects],
        "checks": [dataclasses.asdict(c) for c in run.done],
        "pending": [] if run.failure else run.pending(), "git": None, "duration_s": run.elapsed_s(),
        "notes": [f"validation ended without a report: {run.failure}"] if run.failure else [],
    })


async def client_roots(ctx: Context[Any, Any]) -> list[Path] | None:
    """The client's roots when it declares the roots capability and answers; None otherwise."""
    caps = ctx.session.client_capabilities
    if caps is None or caps.roots is None:
        return None
    try:
        with warnings.catch_warnings():
            # roots are deprecated from protocol 2026-07-28 on, but today's clients still offer them
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            result = await ctx.session.list_roots()
    except MCPError as exc:
        log.info("client declared roots but did not list them: %s", exc)
        return None
    return roots_from_uris(str(root.uri) for root in result.roots)


def _progress_reporter(ctx: Context[Any, Any]) -> Any:
    async def report(run: ValidationRun) -> None:
        total = len(run.planned)
        done = len(run.done)
        running = ", ".join(run.pending()[:3])
        message = f"{run.workspace.name or run.workspace}: {done}/{total} checks finished"
        await ctx.report_progress(float(done), float(total) if total else None,
                                  message + (f"; running {running}" if running else ""))

    return report


async def validate_workspace(
    ctx: Context[Any, Any],
    path: Annotated[str, Field(description=_PATH, min_length=1)],
    checks: Annotated[list[Kind] | None, Field(description=_CHECKS)] = None,
    changed_only: Annotated[bool, Field(description=_CHANGED)] = False,
    lint_scope: Annotated[Literal["all", "new"], Field(description=_SCOPE)] = "all",
    timeout_s: Annotated[float, Field(ge=1.0, le=1800.0, description=_TIMEOUT)] = 120.0,
    use_cache: Annotated[bool, Field(description=_CACHE)] = True,
    validation_id: Annotated[str | None, Field(description=_ID, min_length=1, max_length=100)] = None,
    wait_seconds: Annotated[float | None, Field(ge=0.0, description=_WAIT)] = None,
) -> ValidateWorkspaceResult:
    """Run each project's own checks under `path` (Python, Node/TypeScript, Rust, Go): syntax,
    build (py_compile, tsc, cargo check, go build), lint (ruff, eslint, clippy, go vet), tests
    (pytest, npm test, cargo test, go test). A missing tool gives `skipped`, never a failure.
    Diagnostics carry workspace-relative file and line; git facts are included. Unfinished
    within the time limit: finished=false with the checks done so far; call again with
    validation_id and the same path to wait for the rest."""
    state = app_state(ctx)
    with expected_errors():
        try:
            args = ValidateWorkspaceInput(
                path=path, checks=checks, changed_only=changed_only, lint_scope=lint_scope,
                timeout_s=timeout_s, use_cache=use_cache, validation_id=validation_id, wait_seconds=wait_seconds,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "input"
            raise InputError(field, str(first["msg"]).removeprefix("Value error, "), "syntax, build, lint, test") from None
        runs = state.validation_runs
        roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        workspace = confine_path(args.path, roots, field="path")
        if args.validation_id is not None:
            run = runs.get(args.validation_id)
            if run is None:
                raise InputError(
                    "validation_id", f"no validation {args.validation_id!r} on this server (it restarted, or the "
                    "run is too old); omit validation_id to start a new one",
                )
            if run.workspace != workspace:
                raise InputError("path", f"validation {run.id} is of {run.workspace}, not {workspace}",
                                 str(run.workspace))
        else:
            cache = state.validation_cache
            from server.validation.engine import ValidationOptions

            options = ValidationOptions(
                checks=tuple(args.checks) if args.checks else ALL_KINDS,
                changed_only=args.changed_only,
                lint_scope=args.lint_scope,
                timeout_s=args.timeout_s,
                use_cache=args.use_cache,
            )
            run = runs.start(workspace, options, base_env=state.settings.env, cache=cache)
        limit = state.settings.tool_time_limit_s
        wait = limit if args.wait_seconds is None else min(args.wait_seconds, limit)
        report = _progress_reporter(ctx)
        await run.wait(wait, on_change=report)
    return run_to_output(run)


def register(mcp: MCPServer[Any]) -> None:
    """Add `validate_workspace` to `mcp`."""
    mcp.tool(
        name="validate_workspace",
        title="Validate a workspace",
        annotations=ToolAnnotations(
            title="Validate a workspace",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )(validate_workspace)
