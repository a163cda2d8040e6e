"""Rust checks through cargo: `cargo check` and `cargo clippy` read from cargo's JSON messages,
`cargo test` read from its `test name ... FAILED` lines and its panics (the assertion's values
too), and from JSON messages while it compiles: a patch that does not compile fails its tests
with rustc's errors located first, not with the tail of rustc's notes.

A `cargo` that is only a rustup shim without a toolchain (a fresh HOME) is a missing tool: its
checks are `skipped` with rustup's reason, not failed. In a worktree whose build folder is shared
with the repository's other worktrees, each cargo run holds that folder (`shared_build`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def _compiler_messages(text: str) -> Iterator[dict[str, Any]]:
    """rustc's messages among `--message-format json` lines (other lines are ignored)."""
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("reason") == "compiler-message" and isinstance(item.get("message"), dict):
            yield item["message"]


def parse_cargo_messages(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """Compiler messages from `--message-format json` lines (other lines are ignored). An error's
    message carries its primary span's label ("mismatched types: expected `u64`, found `u32`")."""
    diags: list[Diagnostic] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    for msg in _compiler_messages(text):
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
        message = str(msg.get("message", ""))
        if level == "error" and span.get("label"):
            message += f": {span['label']}"
        diags.append(
            Diagnostic(
                file=file,
                line=span.get("line_start"),
                column=span.get("column_start"),
                severity=level,
                code=(msg.get("code") or {}).get("code"),
                message=message,
            )
        )
    return diags


def rendered_errors(text: str) -> list[str]:
    """rustc's own text of each error among `--message-format json` lines, once each."""
    return list(dict.fromkeys(str(m["rendered"]).strip() for m in _compiler_messages(text)
                              if m.get("level") == "error" and m.get("rendered")))


def parse_cargo_test(text: str, base: Path, workspace: Path) -> list[Diagnostic]:
    """Failed tests, located where they panicked (`thread 'x' panicked at file:line:col:`)."""
    lines = text.splitlines()
    panics: dict[str, tuple[str, int, int, str]] = {}
    for i, line in enumerate(lines):
        m = _PANIC.match(line.strip())
        if m:
            panics[m["name"]] = (m["file"], int(m["line"]), int(m["col"]), _panic_message(m["rest"], lines[i + 1:]))
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


_PANIC_END = re.compile(r"^(note: |stack backtrace:|---- |failures:|thread '|test result: |error: )")
_PANIC_LINES = 12


def _panic_message(rest: str, after: list[str]) -> str:
    """What a panic says: the rest of its `panicked at` line, else the lines after it up to the
    runner's own (`assert_eq!`'s `left:` and `right:` values with them), joined by "; "."""
    if rest:
        return rest
    said: list[str] = []
    for line in after[:_PANIC_LINES]:
        if not line.strip() or _PANIC_END.match(line):
            break
        said.append(line.strip())
    return "; ".join(said)


def rustup_without_toolchain(stderr: str) -> str | None:
    """rustup's own words when `cargo` is a rustup shim that has no toolchain to run, else None."""
    m = _NO_TOOLCHAIN.search(stderr)
    return m.group(0).removeprefix("error: ").strip() if m else None


_STEPS = (
    ToolStep("cargo-check", "build", ("check", "--message-format", "json")),
    ToolStep("cargo-clippy", "lint", ("clippy", "--message-format", "json")),
    ToolStep("cargo-test", "test", ("test", "--no-fail-fast", "--message-format", "json")),
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
        return _read_test(check, ctx, proc)
    diags = parse_cargo_messages(proc.stdout, root, ctx.workspace)
    failed = proc.exit_code != 0 or (check.kind == "lint" and bool(diags))
    return finish(check, proc, diags, failed=failed, parsed_stdout=True)


def _read_test(check: PlannedCheck, ctx: RunContext, proc: ProcResult) -> CheckResult:
    """`cargo test`'s result: the compile errors (warnings are the build check's), then the failed
    tests. Its output keeps the runner's lines, cargo's own, and last (where a tail keeps them)
    rustc's text of each error, instead of the JSON lines."""
    root = check.project.root
    plain = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("{"))
    errors = [d for d in parse_cargo_messages(proc.stdout, root, ctx.workspace) if d.severity == "error"]
    shown = dataclasses.replace(proc, stdout=plain, stderr="\n\n".join([proc.stderr.strip(), *rendered_errors(proc.stdout)]))
    return finish(check, shown, [*errors, *parse_cargo_test(plain + "\n" + proc.stderr, root, ctx.workspace)])


def _covers_members(root: Path) -> bool:
    """A Cargo workspace's root covers its member crates: cargo run there checks them all."""
    try:
        return "[workspace]" in (root / "Cargo.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


LANGUAGE = LanguageSpec(
    name="rust", markers=("Cargo.toml",), suffixes=(".rs",), plan=plan_rust, covers_nested=_covers_members
)
