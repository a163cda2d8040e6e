"""Validation: project detection, syntax / build / lint / test runners, git facts, diagnostics,
and the patch building blocks (temporary worktrees, applying a validated patch).

    roots.py         confine a client-given path to the allowed roots
    detect.py        find Python, Node/TypeScript, Rust and Go projects under a workspace
    procs.py         run a command safely (allowlisted env, capped output, process-group kill)
    *_checks.py      each language's checks, run with the project's own tools
    lint_new.py      lint findings the change introduced (HEAD vs working version)
    gitfacts.py      branch, changed / untracked files, diff stat
    cache.py         results keyed by a fingerprint of their inputs
    engine.py        validate_path(): plan, run concurrently, report
    worktree.py      extract a model's diff, try it in a worktree, apply it to the user's tree
    feedback.py      a failed report as retry feedback
"""

from __future__ import annotations

from server.validation.cache import ResultCache
from server.validation.engine import ValidationOptions, validate_path
from server.validation.feedback import diagnostics_feedback
from server.validation.gitfacts import read_git_facts
from server.validation.model import (
    ALL_KINDS,
    CheckKind,
    CheckResult,
    CheckStatus,
    Diagnostic,
    DiffStat,
    GitFacts,
    LintScope,
    OverallStatus,
    ProjectInfo,
    ValidationReport,
)
from server.validation.roots import allowed_roots, confine_path, roots_from_uris
from server.validation.worktree import (
    AppliedPatch,
    PatchApplyError,
    WorktreeHandle,
    apply_patch_in_worktree,
    apply_patch_to_tree,
    extract_unified_diff,
)

__all__ = [
    "ALL_KINDS",
    "AppliedPatch",
    "CheckKind",
    "CheckResult",
    "CheckStatus",
    "Diagnostic",
    "DiffStat",
    "GitFacts",
    "LintScope",
    "OverallStatus",
    "PatchApplyError",
    "ProjectInfo",
    "ResultCache",
    "ValidationOptions",
    "ValidationReport",
    "WorktreeHandle",
    "allowed_roots",
    "apply_patch_in_worktree",
    "apply_patch_to_tree",
    "confine_path",
    "diagnostics_feedback",
    "extract_unified_diff",
    "read_git_facts",
    "roots_from_uris",
    "validate_path",
]
