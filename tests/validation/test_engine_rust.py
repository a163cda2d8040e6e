"""validate_path on a real Rust crate (where cargo is installed), and on a rustup shim without a toolchain."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from server.validation import ValidationOptions, diagnostics_feedback, validate_path
from tests.validation.helpers import base_env, make_repo

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")

CRATE = {
    "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/lib.rs": (
        "pub fn add(a: i32, b: i32) -> i32 {\n    let unused = 1;\n    a + b\n}\n\n"
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(1, 1), 3);\n    }\n}\n"
    ),
}


@needs_cargo
async def test_cargo_check_warning_and_failing_test_are_located(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", CRATE)
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("build", "test"), timeout_s=300), base_env=base_env()
    )
    checks = {c.name: c for c in report.checks}
    build = checks["cargo-check"]
    assert build.status == "passed"  # a warning does not fail the build
    assert [(d.file, d.line, d.code, d.severity) for d in build.diagnostics] == [
        ("src/lib.rs", 2, "unused_variables", "warning")
    ]
    test = checks["cargo-test"]
    assert test.status == "failed"
    assert [(d.file, d.line) for d in test.diagnostics] == [("src/lib.rs", 10)]
    # the assertion and the values it compared, for the model to see what its code gave
    assert test.diagnostics[0].message == "tests::adds failed: assertion `left == right` failed; left: 2; right: 3"


@needs_cargo
async def test_a_test_run_that_does_not_compile_fails_with_rustc_s_errors_located(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {**CRATE, "src/lib.rs": "pub fn add(a: u64, b: u32) -> u64 {\n    a + b\n}\n"})
    report = await validate_path(tmp_path / "repo", ValidationOptions(checks=("test",), timeout_s=300),
                                 base_env=base_env())
    (test,) = report.checks
    assert test.status == "failed"
    assert [(d.file, d.line, d.code) for d in test.diagnostics][:1] == [("src/lib.rs", 2, "E0308")]
    assert "expected `u64`, found `u32`" in test.diagnostics[0].message
    feedback = diagnostics_feedback(report)
    assert "src/lib.rs:2:" in feedback and "E0308 mismatched types" in feedback  # what a retry is told
    assert "error[E0308]: mismatched types" in test.output_tail and '"reason"' not in test.output_tail  # not JSON


# What rustup's proxy prints (and its exit status) in a HOME where no toolchain was ever installed.
RUSTUP_NO_TOOLCHAIN = (
    "error: rustup could not choose a version of cargo to run, because one wasn't specified explicitly, "
    "and no default is configured.\n"
    "help: run 'rustup default stable' to download the latest stable release of Rust and set it as your "
    "default toolchain.\n"
)


async def test_a_rustup_shim_without_a_toolchain_gives_skipped_checks_with_rustups_reason(tmp_path: Path) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    for tool in ("cargo", "cargo-clippy"):
        shim = shims / tool
        shim.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{RUSTUP_NO_TOOLCHAIN}EOF\nexit 1\n")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    make_repo(tmp_path / "repo", CRATE)
    env = base_env(HOME=str(tmp_path / "fresh-home"))
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("build", "lint", "test"), timeout_s=60), base_env=env
    )
    checks = {c.name: c for c in report.checks}
    assert {name: c.status for name, c in checks.items()} == {
        "cargo-check": "skipped", "cargo-clippy": "skipped", "cargo-test": "skipped",
    }
    assert checks["cargo-check"].command[0] == str(shims / "cargo")
    reason = checks["cargo-check"].skipped_reason or ""
    assert "rustup shim without a toolchain" in reason and "no default is configured" in reason
    assert report.passed and report.status == "passed"
