"""Rust checks through cargo: `cargo check` and `cargo clippy` read from cargo's JSON messages,
`cargo test` read from its `test name ... FAILED` lines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from server.validation.checks_base import (
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

__all__ = ["parse_cargo_messages", "parse_cargo_test", "plan_rust"]

_FAILED_TEST = re.compile(r"^test (?P<name>\S+) \.\.\. FAILED$")
_PANIC = re.compile(
    r"^thread '(?P<name>[^']+)'(?: \(\d+\))? panicked at (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+):?\s*(?P<rest>.*)$"
)


def parse_cargo_messages(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """Compiler messages from `--message-format json` lines (other lines are ignored)."""
    diags: list[Diagnostic] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("reason") != "compiler-message":
            continue
        msg = item.get("message") or {}
        level = msg.get("level", "error")
        if level not in ("error", "warning"):
            continue
        spans = msg.get("spans") or []
        span = next((s for s in spans if s.get("is_primary")), spans[0] if spans else {})
        file = rel_file(span["file_name"], base, workspace) if span.get("file_name") else None
        key = (file, span.get("line_start"), msg.get("message", ""))
        if key in seen:  # the same message is reported once per target
            continue
        seen.add(key)
        diags.append(
            Diagnostic(
                file=file,
                line=span.get("line_start"),
                column=span.get("column_start"),
                severity=level,
                code=(msg.get("code") or {}).get("code"),
                message=str(msg.get("message", "")),
            )
        )
    return diags


def parse_cargo_test(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """Failed tests, located where they panicked (`thread 'x' panicked at file:line:col:`)."""
    lines = text.splitlines()
    panics: dict[str, tuple[str, int, int, str]] = {}
    for i, line in enumerate(lines):
        m = _PANIC.match(line.strip())
        if m:
            detail = lines[i + 1].strip() if i + 1 < len(lines) and not m["rest"] else m["rest"]
            panics[m["name"]] = (m["file"], int(m["line"]), int(m["col"]), detail)
    diags = []
    for line in lines:
        m = _FAILED_TEST.match(line.strip())
        if not m:
            continue
        where = panics.get(m["name"])
        diags.append(
            Diagnostic(
                file=rel_file(where[0], base, workspace) if where else None,
                line=where[1] if where else None,
                column=where[2] if where else None,
                severity="error",
                code="test-failure",
                message=f"{m['name']} failed" + (f": {where[3]}" if where and where[3] else ""),
            )
        )
    return diags


def plan_rust(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    if not (project.root / "Cargo.toml").is_file():
        return []
    cargo = find_executable("cargo", project, ctx.env, ctx.workspace)
    specs: list[tuple[str, CheckKind, list[str]]] = [
        ("cargo-check", "build", ["check", "--message-format", "json"]),
        ("cargo-clippy", "lint", ["clippy", "--message-format", "json"]),
        ("cargo-test", "test", ["test", "--no-fail-fast"]),
    ]
    checks: list[PlannedCheck] = []
    for name, kind, args in specs:
        if kind not in kinds:
            continue
        if cargo is None:
            checks.append(skipped(name, kind, project, "cargo is not installed"))
            continue
        if name == "cargo-clippy" and not _has_clippy(cargo, ctx):
            checks.append(skipped(name, kind, project, "clippy is not installed (rustup component add clippy)"))
            continue
        checks.append(_make(name, kind, [cargo, *args], project))
    return checks


def _has_clippy(cargo: str, ctx: RunContext) -> bool:
    beside = Path(cargo).parent / "cargo-clippy"
    return beside.is_file() or shutil.which("cargo-clippy", path=ctx.env.get("PATH", os.defpath)) is not None


def _make(name: str, kind: CheckKind, argv: list[str], project: Project) -> PlannedCheck:
    check = PlannedCheck(name=name, kind=kind, project=project, command=argv, tool_ids=(argv[0],))

    async def run(ctx: RunContext) -> CheckResult:
        proc = await run_for(check, ctx, argv, stdout_cap=16 * 1024 * 1024)
        if kind == "test":
            return finish(check, proc, parse_cargo_test(proc.stdout + "\n" + proc.stderr, project.root, ctx.workspace))
        diags = parse_cargo_messages(proc.stdout, project.root, ctx.workspace)
        failed = proc.exit_code != 0 or (kind == "lint" and bool(diags))
        return finish(check, proc, diags, failed=failed, parsed_stdout=True)

    check.run = run
    return check
