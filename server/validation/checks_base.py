"""What every language's checks share: the language record, the planned check, the per-run
context, finding a project's own tools, a check that runs one command, and turning a finished
process into a `CheckResult`.

A language is one `LanguageSpec` (markers, source suffixes, planner) defined in its
`<name>_checks.py` module and listed in `languages.LANGUAGES`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.validation.detect import Project, ProjectKind
from server.validation.gitfacts import GitSnapshot
from server.validation.model import CheckKind, CheckResult, CheckStatus, Diagnostic, LintScope
from server.validation.procs import ProcResult, run_process

__all__ = [
    "BIG_OUTPUT",
    "OUTPUT_TAIL_CHARS",
    "LanguageSpec",
    "PlannedCheck",
    "RunContext",
    "ToolStep",
    "command_check",
    "finish",
    "find_executable",
    "match_lines",
    "plan_tool_steps",
    "python_has_module",
    "rel_file",
    "run_for",
    "skipped",
    "upwards",
]

OUTPUT_TAIL_CHARS = 4000
BIG_OUTPUT = 16 * 1024 * 1024  # for tools whose stdout is machine-readable and parsed whole


@dataclass
class RunContext:
    workspace: Path
    env: dict[str, str]  # already allowlisted (procs.child_env)
    deadline: float  # event-loop time by which every check must be done
    scratch: Path  # a temporary directory owned by this run
    changed: set[Path] | None  # limit syntax/lint to these absolute paths; None = everything
    lint_scope: LintScope = "all"
    git: GitSnapshot | None = None
    git_changed: set[Path] | None = None  # changed + untracked files when in a repository
    notes: list[str] = field(default_factory=list)
    python_env: Path | None = None  # a Poetry / Pipenv / Hatch / conda environment kept outside the project (`installed`)
    # The repository root of the checkout the validated tree is a worktree of (None: the tree is the checkout).
    checkout: Path | None = None

    @property
    def top(self) -> Path:
        """The highest folder a project's own tools are looked for in: the root of the repository
        the workspace lies in (never above it), else the workspace."""
        root = self.git.repo_root if self.git is not None else None
        if root is not None and (root == self.workspace or root in self.workspace.parents):
            return root
        return self.workspace

    def in_tree(self, path: Path) -> Path | None:
        """`path`, a place in the checkout, at the same place in the validated tree (None: outside the checkout)."""
        if self.checkout is None or not (path == self.checkout or self.checkout in path.parents):
            return None
        return self.top / path.relative_to(self.checkout)

    def in_checkout(self, path: Path) -> Path | None:
        """`path`, a place in the validated tree, at the same place in the checkout it was made from."""
        if self.checkout is None or not (path == self.top or self.top in path.parents):
            return None
        return self.checkout / path.relative_to(self.top)


Runner = Callable[[RunContext], Awaitable[CheckResult]]


@dataclass
class PlannedCheck:
    name: str
    kind: CheckKind
    project: Project
    command: list[str]  # as shown in the report
    run: Runner | None = None
    skipped_reason: str | None = None
    tool_ids: tuple[str, ...] = ()  # files whose identity (path, size, mtime) pins the tool version
    cache_args: tuple[str, ...] = ()  # further inputs the result depends on (a file subset...)
    cacheable: bool = True

    def blank(self, status: CheckStatus, **kw: object) -> CheckResult:
        return CheckResult(
            name=self.name,
            kind=self.kind,
            project=self.project.rel,
            language=self.project.language,
            status=status,
            command=list(self.command),
            **kw,  # type: ignore[arg-type]
        )


Planner = Callable[[Project, RunContext, set[CheckKind]], list[PlannedCheck]]


@dataclass(frozen=True, kw_only=True)
class LanguageSpec(ProjectKind):
    """One language: how its projects are found (`ProjectKind`) and how their checks are planned."""

    plan: Planner


def skipped(name: str, kind: CheckKind, project: Project, reason: str, command: list[str] | None = None) -> PlannedCheck:
    return PlannedCheck(name=name, kind=kind, project=project, command=command or [], skipped_reason=reason)


def upwards(start: Path, top: Path) -> list[Path]:
    """`start` and each folder above it up to `top` (just `start` when `top` is not above it)."""
    if start != top and top not in start.parents:
        return [start]
    return [start, *start.parents[: len(start.parts) - len(top.parts)]]


def find_executable(name: str, project: Project, ctx_env: dict[str, str], workspace: Path,
                    top: Path | None = None) -> str | None:
    """The project's own copy of a tool first (node_modules/.bin, a project venv, in its folder or
    one above it up to `top`, by default the workspace), then PATH."""
    for directory in upwards(project.root, top or workspace):
        for sub in ("node_modules/.bin", ".venv/bin", "venv/bin"):
            candidate = directory / sub / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return shutil.which(name, path=ctx_env.get("PATH", os.defpath))


def python_has_module(python: str, module: str) -> Path | None:
    """Where `module` lives for that interpreter (cheaply: no interpreter is started), or None."""
    if python == sys.executable:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            return None
        return Path(spec.origin)
    venv = Path(python).parent.parent
    for site in sorted(venv.glob("lib/python*/site-packages")):
        if (site / module).exists():
            return site / module
    return None


def rel_file(name: str, base: Path, workspace: Path) -> str:
    """A tool's file name as a path relative to the workspace (unchanged when it lies outside)."""
    path = Path(name)
    if not path.is_absolute():
        path = base / path
    path = Path(os.path.normpath(path))
    if path == workspace or workspace in path.parents:
        return path.relative_to(workspace).as_posix()
    return name


def _tail(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[-limit:], True


def finish(
    check: PlannedCheck,
    proc: ProcResult,
    diagnostics: Iterable[Diagnostic],
    *,
    failed: bool | None = None,
    status: CheckStatus | None = None,
    skipped_reason: str | None = None,
    parsed_stdout: bool = False,
) -> CheckResult:
    """Build the result of a check whose process ran; `failed` defaults to a non-zero exit.

    With `parsed_stdout` the tool's stdout was machine-readable and already became diagnostics,
    so only stderr goes into the output tail."""
    if proc.timed_out:
        final: CheckStatus = "timed_out"
    elif status is not None:
        final = status
    elif failed if failed is not None else proc.exit_code != 0:
        final = "failed"
    else:
        final = "passed"
    streams = (proc.stderr,) if parsed_stdout else (proc.stdout, proc.stderr)
    combined = "\n".join(part.strip() for part in streams if part.strip())
    tail, cut = _tail(combined, OUTPUT_TAIL_CHARS)
    result = check.blank(
        final,
        duration_s=round(proc.duration_s, 3),
        exit_code=proc.exit_code,
        output_tail=tail,
        output_truncated=cut or proc.truncated,
        skipped_reason=skipped_reason,
    )
    result.command = list(proc.argv) if len(proc.argv) <= 40 else [*proc.argv[:40], "..."]
    result.diagnostics = list(diagnostics)
    return result


async def run_for(check: PlannedCheck, ctx: RunContext, argv: list[str], *, env: dict[str, str] | None = None,
                  **kw: object) -> ProcResult:
    """Run `argv` in the check's project with the run's environment (or `env`) and deadline."""
    return await run_process(argv, cwd=check.project.root, env=ctx.env if env is None else env,
                             deadline=ctx.deadline, **kw)  # type: ignore[arg-type]


Reader = Callable[[PlannedCheck, RunContext, ProcResult], CheckResult]


def command_check(
    name: str,
    kind: CheckKind,
    project: Project,
    argv: list[str],
    read: Reader,
    *,
    runtime_argv: Callable[[RunContext], list[str]] | None = None,
    stdout_cap: int = BIG_OUTPUT,
    tool_ids: tuple[str, ...] = (),
    cache_args: tuple[str, ...] = (),
) -> PlannedCheck:
    """A check that runs one command in the project and lets `read` turn its output into a result.

    `argv` is what the report shows; `runtime_argv` builds the real one when it depends on the
    run (a path in the run's scratch directory)."""
    check = PlannedCheck(
        name=name, kind=kind, project=project, command=list(argv), tool_ids=tool_ids or (argv[0],),
        cache_args=cache_args,
    )

    async def run(ctx: RunContext) -> CheckResult:
        actual = runtime_argv(ctx) if runtime_argv is not None else list(argv)
        return read(check, ctx, await run_for(check, ctx, actual, stdout_cap=stdout_cap))

    check.run = run
    return check


@dataclass(frozen=True)
class ToolStep:
    """One check of a tool-driven language (`go vet ./...`): its name, kind and the tool's arguments."""

    name: str
    kind: CheckKind
    args: tuple[str, ...]


def plan_tool_steps(
    project: Project,
    ctx: RunContext,
    kinds: set[CheckKind],
    tool: str,
    steps: Sequence[ToolStep],
    make: Callable[[Project, ToolStep, str], PlannedCheck],
) -> list[PlannedCheck]:
    """The steps of the requested kinds, each skipped when `tool` is not installed for the project."""
    executable = find_executable(tool, project, ctx.env, ctx.workspace)
    checks: list[PlannedCheck] = []
    for step in steps:
        if step.kind not in kinds:
            continue
        if executable is None:
            checks.append(skipped(step.name, step.kind, project, f"{tool} is not installed"))
        else:
            checks.append(make(project, step, executable))
    return checks


def match_lines(pattern: re.Pattern[str], text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """A diagnostic per line that `pattern` matches: groups `file`, `line`, `msg`, and optionally
    `col`, `sev` (default error) and `code`."""
    diags = []
    for line in text.splitlines():
        m = pattern.match(line.strip())
        if not m:
            continue
        found = m.groupdict()
        diags.append(
            Diagnostic(
                file=rel_file(found["file"], base, workspace),
                line=int(found["line"]),
                column=int(found["col"]) if found.get("col") else None,
                severity=found.get("sev") or "error",
                code=found.get("code"),
                message=found["msg"],
            )
        )
    return diags
