"""Validation: project detection, syntax / build / lint / test runners, git facts, diagnostics,
and the patch building blocks (temporary worktrees, applying a validated patch).

    roots.py         confine a client-given path to the allowed roots
    detect.py        find the projects of each known language under a workspace
    languages.py     the known languages: one LanguageSpec record each (markers, suffixes, planner)
    checks_base.py   what every language's checks share (LanguageSpec, PlannedCheck, command_check)
    *_checks.py      each language's record and checks, run with the project's own tools
    python_env.py    the Python a project's checks run with, editable installs re-pointed into a worktree
    pytest_check.py  the pytest check and its JUnit report (a module that cannot be imported: by its error)
    unittest_check.py  tests by unittest's runner or a Django project's manage.py, for a Python without pytest
    py_tracebacks.py the exception a runner printed, with the worktree's paths from the workspace
    ruff_lint.py     Python lint with ruff
    lint_new.py      lint findings the change introduced (HEAD vs working version)
    procs.py         run a command safely (allowlisted env, capped output, every descendant killed)
    reaper.py        the subreaper supervisor a command runs under (a script, stdlib only)
    gitfacts.py      branch, changed / untracked files, diff stat
    cache.py         results keyed by a fingerprint of their inputs
    engine.py        validate_path(): plan, run concurrently, report
    runs.py          validations running in the background under an id, waited on in turns
    worktree.py      extract a model's diff, read its paths (RepoFiles), try it in a worktree, apply it
    lenient_patch.py apply a diff git refuses by its hunks' text (wrong line numbers or counts)
    whole_files.py   an answer given as whole files under their paths, as a diff
    edit_blocks.py   an answer given as SEARCH/REPLACE blocks (aider's format), as a diff
    baseline.py      tests already failing at a patch's base commit, told apart from new failures
    feedback.py      a failed report as retry feedback
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.lazy_exports import lazy_getattr

if TYPE_CHECKING:
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
    from server.validation.runs import ValidationRun, ValidationRuns
    from server.validation.worktree import (
        AppliedPatch,
        PatchApplyError,
        WorktreeHandle,
        apply_patch_in_worktree,
        apply_patch_to_tree,
        extract_unified_diff,
    )

# Each name loads its module on first use (PEP 562): a server lists its tools without loading the
# runners, and `server.validation.model` / `.roots` can be imported alone.
_LAZY: dict[str, str] = {
    "ALL_KINDS": "server.validation.model",
    "AppliedPatch": "server.validation.worktree",
    "CheckKind": "server.validation.model",
    "CheckResult": "server.validation.model",
    "CheckStatus": "server.validation.model",
    "Diagnostic": "server.validation.model",
    "DiffStat": "server.validation.model",
    "GitFacts": "server.validation.model",
    "LintScope": "server.validation.model",
    "OverallStatus": "server.validation.model",
    "PatchApplyError": "server.validation.worktree",
    "ProjectInfo": "server.validation.model",
    "ResultCache": "server.validation.cache",
    "ValidationOptions": "server.validation.engine",
    "ValidationReport": "server.validation.model",
    "ValidationRun": "server.validation.runs",
    "ValidationRuns": "server.validation.runs",
    "WorktreeHandle": "server.validation.worktree",
    "allowed_roots": "server.validation.roots",
    "apply_patch_in_worktree": "server.validation.worktree",
    "apply_patch_to_tree": "server.validation.worktree",
    "confine_path": "server.validation.roots",
    "diagnostics_feedback": "server.validation.feedback",
    "extract_unified_diff": "server.validation.worktree",
    "read_git_facts": "server.validation.gitfacts",
    "roots_from_uris": "server.validation.roots",
    "validate_path": "server.validation.engine",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


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
    "ValidationRun",
    "ValidationRuns",
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
