"""Test-first: the tests a cheap variant wrote must be collected and must fail on the current
code (a test that already passes proves nothing), and the implementation that follows may not
edit them.

    verdict = await check_tests_fail_first(repo, test_patch, env=env)
    if verdict.ok: ... run the implementation with verdict.test_files as its check ...
    touched = diff_touches(implementation_diff, verdict.test_files)   # non-empty: attempt fails
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from server.errors import WorkspaceError
from server.validation import ValidationOptions, apply_patch_in_worktree, validate_path
from server.validation.model import ValidationReport
from server.validation.worktree import diff_files

__all__ = ["TestFirstVerdict", "check_tests_fail_first", "diff_touches"]

# pytest's exit codes: 1 tests failed, 2 interrupted (a collection error), 5 nothing collected.
_FAILED, _COLLECTION_ERROR = 1, 2


@dataclass(frozen=True)
class TestFirstVerdict:
    ok: bool
    reason: str  # why the tests were rejected, in words the test writer can act on
    test_files: tuple[str, ...]
    failing_tests: tuple[str, ...] = ()
    base_commit: str | None = None


def diff_touches(diff: str, protected: Iterable[str]) -> tuple[str, ...]:
    """The protected files (the tests written first) that `diff` changes."""
    keep = set(protected)
    return tuple(f for f in diff_files(diff) if f in keep)


def _test_check(report: ValidationReport, files: tuple[str, ...]) -> tuple[int | None, tuple[str, ...]]:
    """pytest's exit code and the failing tests that live in `files`."""
    for check in report.checks:
        if check.kind == "test" and check.status != "skipped":
            failing = tuple(d.message.split(": ", 1)[0] for d in check.diagnostics
                            if d.file in files or any(Path(f).stem in d.message for f in files))
            return check.exit_code, failing
    return None, ()


async def check_tests_fail_first(
    repo: Path, test_patch: str, *, env: Mapping[str, str], timeout_s: float = 300.0
) -> TestFirstVerdict:
    """Apply `test_patch` in a temporary worktree at HEAD and run the project's tests there."""
    files = diff_files(test_patch)
    if not files:
        return TestFirstVerdict(False, "the answer holds no patch adding tests", ())
    try:
        handle = await apply_patch_in_worktree(repo, test_patch, env=env)
    except WorkspaceError as exc:
        return TestFirstVerdict(False, f"the test patch does not apply: {exc}", files)
    async with handle:
        options = ValidationOptions(checks=("test",), timeout_s=timeout_s, use_cache=False, source=repo)
        report = await validate_path(handle.path, options, base_env=env)
    exit_code, new_failing = _test_check(report, files)
    base = handle.base_commit
    if exit_code is None:
        return TestFirstVerdict(False, "no tests were collected: name the files test_*.py and the functions "
                                "test_*", files, base_commit=base)
    if exit_code == _COLLECTION_ERROR:
        return TestFirstVerdict(False, "the tests were not collected (a collection error, e.g. importing a name "
                                "that does not exist yet): import the module and reach the new name inside "
                                "the test so it fails when run", files, base_commit=base)
    if exit_code != _FAILED or not new_failing:
        return TestFirstVerdict(False, "the new tests pass on the current code, so they prove nothing: write "
                                "tests that fail until the change is made", files, base_commit=base)
    return TestFirstVerdict(True, "", files, new_failing, base)
