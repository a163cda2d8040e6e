"""validate_path on a real Rust crate (only where cargo is installed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.validation import ValidationOptions, validate_path
from tests.validation.helpers import base_env, make_repo

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")

CRATE = {
    "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/lib.rs": (
        "pub fn add(a: i32, b: i32) -> i32 {\n    let unused = 1;\n    a + b\n}\n\n"
        "#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(1, 1), 3);\n    }\n}\n"
    ),
}


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
    assert "tests::adds failed" in test.diagnostics[0].message
