"""Reading the tools' machine-readable output (for tools not installed here too)."""

from __future__ import annotations

import json
from pathlib import Path

from server.validation import ValidationOptions, validate_path
from server.validation.go_checks import parse_go_positions, parse_go_test_json
from server.validation.node_checks import parse_node_check, parse_tsc
from server.validation.rust_checks import parse_cargo_messages
from tests.validation.helpers import base_env, make_repo

WS = Path("/ws")


def test_tsc_lines_become_diagnostics() -> None:
    out = "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nnoise\n"
    (d,) = parse_tsc(out, WS / "web", WS)
    assert (d.file, d.line, d.column, d.severity, d.code) == ("web/src/a.ts", 3, 7, "error", "TS2322")


def test_go_build_and_vet_positions() -> None:
    out = "# example.com/x\n./main.go:5:2: undefined: foo\nvet: ./util.go:9: unreachable code\n"
    diags = parse_go_positions(out, WS / "svc", WS)
    assert [(d.file, d.line, d.column, d.message) for d in diags] == [
        ("svc/main.go", 5, 2, "undefined: foo"),
        ("svc/util.go", 9, None, "unreachable code"),
    ]


def test_go_test_json_failures() -> None:
    events = [
        {"Action": "run", "Package": "x", "Test": "TestA"},
        {"Action": "fail", "Package": "x", "Test": "TestA"},
        {"Action": "pass", "Package": "x", "Test": "TestB"},
        {"Action": "fail", "Package": "x"},
    ]
    diags = parse_go_test_json("\n".join(json.dumps(e) for e in events))
    assert [d.message for d in diags] == ["x/TestA failed", "x failed"]


def test_cargo_messages_keep_primary_span_and_drop_duplicates() -> None:
    msg = {
        "reason": "compiler-message",
        "message": {
            "level": "error",
            "message": "mismatched types",
            "code": {"code": "E0308"},
            "spans": [
                {"file_name": "src/other.rs", "line_start": 1, "column_start": 1, "is_primary": False},
                {"file_name": "src/lib.rs", "line_start": 4, "column_start": 9, "is_primary": True},
            ],
        },
    }
    text = "\n".join([json.dumps(msg), json.dumps(msg), json.dumps({"reason": "build-finished"}), "plain"])
    (d,) = parse_cargo_messages(text, WS / "crate", WS)
    assert (d.file, d.line, d.column, d.code, d.severity) == ("crate/src/lib.rs", 4, 9, "E0308", "error")


def test_node_check_report_without_caret_still_gives_line_and_message() -> None:
    d = parse_node_check("/x/a.js:7\n\nSyntaxError: Invalid or unexpected token\n", "a.js")
    assert (d.line, d.column, d.code, d.message) == (7, None, "SyntaxError", "Invalid or unexpected token")


async def test_go_and_rust_projects_without_their_tools_are_skipped(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "repo",
        {"svc/go.mod": "module x\n", "svc/main.go": "package main\n", "crate/Cargo.toml": "[package]\n"},
    )
    env = base_env()
    env["PATH"] = str(tmp_path / "no-tools")
    report = await validate_path(tmp_path / "repo", ValidationOptions(), base_env=env)
    assert report.passed
    assert {(c.name, c.status, c.skipped_reason) for c in report.checks} == {
        ("go-build", "skipped", "go is not installed"),
        ("go-vet", "skipped", "go is not installed"),
        ("go-test", "skipped", "go is not installed"),
        ("cargo-check", "skipped", "cargo is not installed"),
        ("cargo-clippy", "skipped", "cargo is not installed"),
        ("cargo-test", "skipped", "cargo is not installed"),
    }
