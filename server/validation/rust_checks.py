"""Rust checks through cargo: `cargo check` and `cargo clippy` read from cargo's JSON messages,
`cargo test` read from its `test name ... FAILED` lines.

A `cargo` that is only a rustup shim without a toolchain (a fresh HOME) is a missing tool: its
checks are `skipped` with rustup's reason, not failed. In a worktree whose build folder is shared
with the repository's other worktrees, each cargo run holds that folder (`shared_build`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from server.validation.checks_base import (
    LanguageSpec,
    PlannedCheck,
    RunContext,
    ToolStep,
    command_check,
    finish,
    plan_tool_steps,
    rel_file,
    skipped,
)
from server.validation.detect import Project
from server.validation.model import CheckKind, CheckResult, Diagnostic
from server.validation.procs import ProcResult
from server.validation.shared_build import holding

__all__ = ["LANGUAGE", "parse_cargo_messages", "parse_cargo_test", "plan_rust", "rustup_without_toolchain"]

_FAILED_TEST = re.compile(r"^test (?P<name>\S+) \.\.\. FAILED$")
# What a rustup proxy prints when it has no toolchain to run ("no default is configured",
# "toolchain 'stable-...' is not installed").
_NO_TOOLCHAIN = re.compile(
    r"^error: (rustup could not choose a version of \S+ to run.*|toolchain '[^']+' is not installed.*)$", re.M
)
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


def rustup_without_toolchain(stderr: str) -> str | None:
    """rustup's own words when `cargo` is a rustup shim that has no toolchain to run, else None."""
    m = _NO_TOOLCHAIN.search(stderr)
    return m.group(0).removeprefix("error: ").strip() if m else None


_STEPS = (
    ToolStep("cargo-check", "build", ("check", "--message-format", "json")),
    ToolStep("cargo-clippy", "lint", ("clippy", "--message-format", "json")),
    ToolStep("cargo-test", "test", ("test", "--no-fail-fast")),
)


def plan_rust(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    if not (project.root / "Cargo.toml").is_file():
        return []

    def make(project: Project, step: ToolStep, cargo: str) -> PlannedCheck:
        if step.name == "cargo-clippy" and not _has_clippy(cargo, ctx):
            return skipped(step.name, step.kind, project, "clippy is not installed (rustup component add clippy)")
        return _holding_build_folder(command_check(step.name, step.kind, project, [cargo, *step.args], _read))

    return plan_tool_steps(project, ctx, kinds, "cargo", _STEPS, make)


def _holding_build_folder(check: PlannedCheck) -> PlannedCheck:
    """`check`, run while it holds the build folder its worktree shares (`shared_build.holding`)."""
    run = check.run
    assert run is not None

    async def held(ctx: RunContext) -> CheckResult:
        async with holding(check.project.root, ctx.env):
            return await run(ctx)

    check.run = held
    return check


def _has_clippy(cargo: str, ctx: RunContext) -> bool:
    beside = Path(cargo).parent / "cargo-clippy"
    return beside.is_file() or shutil.which("cargo-clippy", path=ctx.env.get("PATH", os.defpath)) is not None


def _read(check: PlannedCheck, ctx: RunContext, proc: ProcResult) -> CheckResult:
    if proc.exit_code not in (0, None) and (why := rustup_without_toolchain(proc.stderr)):
        return finish(check, proc, [], status="skipped",
                      skipped_reason=f"cargo is a rustup shim without a toolchain: {why}")
    root = check.project.root
    if check.kind == "test":
        return finish(check, proc, parse_cargo_test(proc.stdout + "\n" + proc.stderr, root, ctx.workspace))
    diags = parse_cargo_messages(proc.stdout, root, ctx.workspace)
    failed = proc.exit_code != 0 or (check.kind == "lint" and bool(diags))
    return finish(check, proc, diags, failed=failed, parsed_stdout=True)


def _covers_members(root: Path) -> bool:
    """A Cargo workspace's root covers its member crates: cargo run there checks them all."""
    try:
        return "[workspace]" in (root / "Cargo.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


LANGUAGE = LanguageSpec(
    name="rust", markers=("Cargo.toml",), suffixes=(".rs",), plan=plan_rust, covers_nested=_covers_members
)
