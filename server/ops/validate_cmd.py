"""`parallel-work-manager validate PATH`: run validate_workspace's checks from the command line.

The path is confined to the configured allowed roots (else the current directory), exactly as
the MCP tool confines a client's path when the client offers no roots.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from server.settings import Settings
from server.validation import (
    ALL_KINDS,
    ValidationOptions,
    ValidationReport,
    allowed_roots,
    confine_path,
    validate_path,
)

__all__ = ["add_arguments", "run"]

_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip", "timed_out": "TIME", "error": "ERR "}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="directory to validate")
    parser.add_argument(
        "--check",
        action="append",
        choices=list(ALL_KINDS),
        dest="checks",
        help="a check to run (repeatable; default: all that apply)",
    )
    parser.add_argument("--changed-only", action="store_true", help="syntax and lint on changed files only")
    parser.add_argument("--new-lint-only", action="store_true", help="only lint findings the change introduced")
    parser.add_argument("--timeout", type=float, default=300.0, help="time limit in seconds for all checks")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _print_report(report: ValidationReport) -> None:
    print(f"{report.workspace}: {report.status} in {report.duration_s:.2f}s")
    if report.git is not None:
        print(f"  git: branch {report.git.branch or '(detached)'}, {len(report.git.changed)} changed, "
              f"{len(report.git.untracked)} untracked")
    for check in report.checks:
        line = f"  [{_MARK.get(check.status, check.status)}] {check.name} ({check.project})"
        if check.status == "skipped" and check.skipped_reason:
            line += f": {check.skipped_reason}"
        print(line)
        for diag in check.diagnostics[:20]:
            where = f"{diag.file}:{diag.line or '?'}:{diag.column or '?'}"
            print(f"        {where} {diag.code or ''} {diag.message}")
    for note in report.notes:
        print(f"  note: {note}")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    roots = allowed_roots(None, settings.allowed_roots, Path(os.getcwd()))
    workspace = confine_path(args.path, roots, field="path")
    options = ValidationOptions(
        checks=tuple(args.checks) if args.checks else ALL_KINDS,
        changed_only=args.changed_only,
        lint_scope="new" if args.new_lint_only else "all",
        timeout_s=args.timeout,
    )
    report = await validate_path(workspace, options, base_env=settings.env)
    if args.json:
        print(json.dumps(dataclasses.asdict(report), indent=2, default=str))
    else:
        _print_report(report)
    return 0 if report.passed else 1
