"""Python lint with ruff: find the project's ruff, run it with JSON output, read its findings,
and (with lint_scope 'new') keep only those the change introduced (`lint_new.py`).
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from server.validation.checks_base import (
    BIG_OUTPUT,
    PlannedCheck,
    RunContext,
    find_executable,
    finish,
    python_has_module,
    rel_file,
    run_for,
    skipped,
)
from server.validation.detect import Project
from server.validation.lint_new import lint_new_only
from server.validation.model import CheckResult, CheckStatus, Diagnostic

__all__ = ["RUFF_CONFIG_FILES", "find_ruff", "parse_ruff_json", "plan_ruff", "ruff_argv"]

RUFF_CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")


def find_ruff(project: Project, ctx: RunContext) -> str | None:
    """The project's ruff, else one on PATH, else the one installed with the server's Python."""
    found = find_executable("ruff", project, ctx.env, ctx.workspace, ctx.top)
    if found:
        return found
    if python_has_module(sys.executable, "ruff"):
        try:
            from ruff.__main__ import find_ruff_bin

            return str(find_ruff_bin())
        except (ImportError, FileNotFoundError):
            return None
    return None


def ruff_argv(ruff: str, targets: list[str]) -> list[str]:
    # --force-exclude keeps the project's excludes even for files named explicitly.
    return [ruff, "check", "--output-format", "json", "--no-cache", "--force-exclude", *targets]


def parse_ruff_json(text: str, base: Path, workspace: Path) -> list[Diagnostic] | None:
    """Ruff's JSON findings as diagnostics; None when the output is not the JSON we expect."""
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    diags = []
    for item in items:
        loc = item.get("location") or {}
        code = item.get("code")
        diags.append(
            Diagnostic(
                file=rel_file(str(item.get("filename", "")), base, workspace),
                line=loc.get("row"),
                column=loc.get("column"),
                severity="error" if code in (None, "invalid-syntax") else "warning",
                code=code or "invalid-syntax",
                message=str(item.get("message", "")),
            )
        )
    return diags


def plan_ruff(project: Project, ctx: RunContext) -> PlannedCheck:
    ruff = find_ruff(project, ctx)
    if ruff is None:
        return skipped("ruff", "lint", project, "ruff is not installed (project, PATH or server venv)")
    new_only = ctx.lint_scope == "new" and ctx.git is not None and ctx.git.head is not None
    scope = ctx.changed if ctx.changed is not None else (ctx.git_changed if new_only else None)
    files = [p for p in project.sources if p in scope and p.is_file()] if scope is not None else []
    if scope is not None and not files:
        return skipped("ruff", "lint", project, "no changed Python files to lint", ruff_argv(ruff, []))
    targets = [p.relative_to(project.root).as_posix() for p in files] if files else ["."]
    check = PlannedCheck(
        name="ruff-new" if new_only else "ruff",
        kind="lint",
        project=project,
        command=ruff_argv(ruff, targets),
        tool_ids=(ruff,),
        cache_args=(ctx.lint_scope, ctx.git.head or "" if ctx.git else "", *targets),
    )

    async def run(ctx: RunContext) -> CheckResult:
        if new_only:
            return await lint_new_only(
                check, ctx, files, argv_for=partial(ruff_argv, ruff), parse=parse_ruff_json,
                config_files=RUFF_CONFIG_FILES,
            )
        proc = await run_for(check, ctx, check.command, stdout_cap=BIG_OUTPUT)
        diags = parse_ruff_json(proc.stdout, project.root, ctx.workspace)
        if diags is None and not proc.timed_out:
            return finish(check, proc, [], status="error")
        status: CheckStatus | None = "error" if proc.exit_code not in (0, 1) else None
        return finish(check, proc, diags or [], failed=bool(diags), status=status, parsed_stdout=True)

    check.run = run
    return check
