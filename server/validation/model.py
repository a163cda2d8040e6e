"""The validation engine's plain result types: diagnostics, check results, git facts, the report.

Dataclasses only; the MCP tool converts them to pydantic models at its edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ALL_KINDS",
    "CheckKind",
    "CheckResult",
    "CheckStatus",
    "DiffStat",
    "Diagnostic",
    "GitFacts",
    "LintScope",
    "OverallStatus",
    "ProjectInfo",
    "ValidationReport",
    "overall_status",
]

CheckKind = Literal["syntax", "build", "lint", "test"]
CheckStatus = Literal["passed", "failed", "skipped", "timed_out", "error"]
OverallStatus = Literal["passed", "failed", "timed_out", "error"]
LintScope = Literal["all", "new"]
Language = str  # a name from languages.LANGUAGES: python, node, rust, go

ALL_KINDS: tuple[CheckKind, ...] = ("syntax", "build", "lint", "test")


@dataclass(frozen=True)
class Diagnostic:
    """One finding read from a tool: `file` is relative to the workspace when it lies inside it."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"  # error | warning | info
    code: str | None = None


@dataclass(frozen=True)
class ProjectInfo:
    path: str  # relative to the workspace; "." for the workspace itself
    language: Language
    markers: tuple[str, ...] = ()


@dataclass
class CheckResult:
    name: str
    kind: CheckKind
    project: str
    language: Language
    status: CheckStatus
    duration_s: float = 0.0
    command: list[str] = field(default_factory=list)
    exit_code: int | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    diagnostics_dropped: int = 0
    output_tail: str = ""
    output_truncated: bool = False
    skipped_reason: str | None = None
    cached: bool = False


@dataclass(frozen=True)
class DiffStat:
    files: int = 0
    insertions: int = 0
    deletions: int = 0


@dataclass(frozen=True)
class GitFacts:
    repo_root: str
    branch: str | None  # None when HEAD is detached
    detached: bool
    head: str | None  # None in a repository without commits
    changed: tuple[str, ...] = ()  # staged + unstaged against HEAD, relative to the workspace
    untracked: tuple[str, ...] = ()
    diff_stat: DiffStat = DiffStat()
    files_dropped: int = 0  # list entries left out to keep the report bounded


@dataclass
class ValidationReport:
    workspace: str
    passed: bool
    status: OverallStatus
    projects: list[ProjectInfo] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    git: GitFacts | None = None
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def overall_status(checks: list[CheckResult]) -> OverallStatus:
    """A definite failure outranks a time-out, which outranks an internal error; skipped never fails."""
    statuses = {c.status for c in checks}
    for status in ("failed", "timed_out", "error"):
        if status in statuses:
            return status
    return "passed"
