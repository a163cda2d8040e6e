"""Check a model's answer before it is handed back: its patch, applied in a temporary worktree
of the task's workspace, must pass the requested checks.

The user's working tree is never touched here; applying a validated patch to it is a separate,
explicit request (`apply_validated_patch`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import WorkspaceError
from server.validation import (
    ValidationOptions,
    apply_patch_in_worktree,
    diagnostics_feedback,
    extract_unified_diff,
    validate_path,
)
from server.validation.baseline import already_note, judge_against_base
from server.validation.engine import path_hint
from server.validation.model import LintScope, ValidationReport
from server.validation.worktree import diff_files, diff_stat

__all__ = ["Verdict", "check_answer", "checks_not_run", "feedback_messages", "implicit_test_scope", "lint_scope",
           "test_scope"]


def test_scope(spec: Mapping[str, Any]) -> str:
    """Which failing tests fail a task's patch: `"new"` (SWE-bench's PASS_TO_PASS rule) only those
    that passed at the base commit (a test that already failed and still fails is forgiven), else
    every one. A task that asks for checks gets every one unless it says `test_scope: "new"` (a bug
    fix's task is often the failing test); one checked only because it names a workspace has its
    scope set from its plan when it runs (`implicit_test_scope`)."""
    return "new" if spec.get("test_scope") == "new" else "all"


_ABOUT_TESTS = re.compile(r"\b(?:tests?|specs?|test suite|ci)\b[^.\n]{0,40}\b(?:pass(?:es|ing)?|green|fail(?:s|ing)?|"
                          r"broken|red)\b|\b(?:failing|broken|red|flaky)\s+(?:tests?|specs?|build|ci)\b", re.IGNORECASE)


def implicit_test_scope(description: str, task_type: str) -> str:
    """The test scope of a task checked only because it names a workspace (`task_type`: its plan's):
    every failing test for a bug fix or a task about tests passing or failing ("Fix add() so the
    tests pass": the failing test is the task), else only tests that passed before (a docstring
    must break nothing, not mend the suite)."""
    return "all" if task_type == "bug_fix" or _ABOUT_TESTS.search(description) else "new"


def lint_scope(spec: Mapping[str, Any]) -> LintScope:
    """Which lint findings fail a task's patch: by default only those the patch adds (SWE-agent's
    rule: a repository's existing findings, in files the patch never touched, would fail every
    answer and send it up the chain to no purpose); `"all"` when the task's spec asks for it."""
    return "all" if spec.get("lint_scope") == "all" else "new"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    status: str  # passed | failed | timed_out | error | no_patch | patch_failed
    report_json: str
    feedback: str  # what the next model is told when this answer failed
    patch: str | None
    base_commit: str | None
    # For the task's error when every model fails: what the caller could change (a few words).
    hint: str | None = None


async def check_answer(text: str, spec: Mapping[str, Any], env: Mapping[str, str], *,
                       lenient: bool = True) -> Verdict:
    """Extract the unified diff from `text`, apply it in a worktree of `spec["workspace"]`, and
    run `spec["checks"]` there. `lenient`: a diff git refuses may go in by its hunks' text
    (`server.validation.lenient_patch`); the verdict's patch is then the change as git writes it."""
    patch = extract_unified_diff(text)
    if patch is None:
        feedback = ("Your answer contained no unified diff and no SEARCH/REPLACE blocks. Answer with one patch "
                    "in a ```diff block (paths relative to the repository root, --- a/ and +++ b/ headers), or "
                    "with SEARCH/REPLACE blocks, each under its file's path.")
        return Verdict(False, "no_patch", json.dumps({"status": "no_patch"}), feedback, None, None)
    workspace = Path(str(spec["workspace"]))
    try:
        # the commit the task's context was read from (server/context), else HEAD
        handle = await apply_patch_in_worktree(workspace, patch, base=str(spec.get("base") or "HEAD"), env=env,
                                               lenient=lenient)
    except WorkspaceError as exc:
        feedback = f"Your patch did not apply to the repository at HEAD:\n{exc}\nSend a corrected patch."
        failure = {"status": "patch_failed", "error": str(exc)}
        return Verdict(False, "patch_failed", json.dumps(failure), feedback, patch, None)
    patch = handle.applied_diff or patch
    async with handle:
        options = ValidationOptions(
            checks=tuple(spec.get("checks") or ()) or ValidationOptions().checks,
            timeout_s=float(spec.get("timeout_s", 300.0)),
            use_cache=False,
            lint_scope=lint_scope(spec),
            source=workspace,
        )
        report = await validate_path(handle.workspace, options, base_env=env)
    unrun = checks_not_run(report, spec)
    if "not installed" in unrun:
        unrun += f"; {path_hint(env)}"
    if unrun:
        # Checks nobody asked for, and none can run (a Java repository): the patch applies, and the
        # verdict says no more than that. Checks asked for: nothing proves the patch, and another
        # model's answer would be unchecked alike.
        passed = bool(spec.get("implicit"))
        data = {**dataclasses.asdict(report), "status": "unchecked", "passed": passed,
                **({"notes": [*report.notes, unrun]} if passed else {"error": unrun}),
                "base_commit": handle.base_commit, "files_changed": list(diff_files(patch)),
                "diff_stat": diff_stat(patch)}
        return Verdict(passed, "unchecked", json.dumps(data, default=str), "", patch, handle.base_commit,
                       None if passed else f"{unrun}; the unchecked patch is the task's result")
    # Tests and lint findings already failing at the base commit told apart (`judge_against_base`).
    # The tests written first (`base_patch`) only add tests, which the commit cannot hold: they
    # never count as failing before.
    compared = await judge_against_base(report, workspace, handle.base_commit, lint_scope=lint_scope(spec),
                                        test_scope=test_scope(spec),
                                        required=[str(t) for t in spec.get("required_tests") or ()],
                                        timeout_s=options.timeout_s, env=env)
    report, forgiven, already = compared.report, compared.forgiven, compared.already
    data = dataclasses.asdict(report)
    data["base_commit"] = handle.base_commit
    data["files_changed"] = list(diff_files(patch))
    data["diff_stat"] = diff_stat(patch)
    if forgiven or already:
        data["failing_before_the_patch"] = forgiven or already
    feedback = "" if report.passed else diagnostics_feedback(report) + already_note(handle.base_commit, already)
    hint = None
    if already and compared.old_only:
        # Not an invitation to accept a patch that fixes nothing: the failing test is often the task.
        hint = (f"only tests already failing before the patch fail ({', '.join(already[:5])}): if the task is to "
                'make them pass, the patch did not. validate.test_scope "new" ignores them, and so accepts a patch '
                "that leaves them failing: ask for it only when they are not the task's")
    return Verdict(report.passed, report.status, json.dumps(data, default=str), feedback, patch, handle.base_commit,
                   hint)


def checks_not_run(report: ValidationReport, spec: Mapping[str, Any]) -> str:
    """Why the checks prove nothing, "" when they do: a kind of check the caller named (`"checks":
    ["test"]`) that ran in no project, or, with the default checks, none that ran at all (each was
    skipped: pytest not installed for the project's Python, no test files, ...). A skipped check
    passes a report, so without this a patch would be handed back as checked when no check ran."""
    if spec.get("must_change") or spec.get("command"):
        return ""  # a checklist item's own check (files that must change, its command) proves it
    ran = {c.kind for c in report.checks if c.status != "skipped"}
    why = "; ".join(dict.fromkeys(f"{c.name}: {c.skipped_reason}" for c in report.checks
                                  if c.status == "skipped" and c.skipped_reason))
    if spec.get("checks_named"):
        missing = [k for k in spec.get("checks") or () if k not in ran]
        if missing:
            return f"no {'/'.join(missing)} check could run ({why or 'no project of a known language'})"
        return ""
    return "" if ran else f"no check could run ({why or 'no project of a known language'})"


RETRY_REQUEST = ("Send the whole corrected change against the original files, as a unified diff or as "
                 "SEARCH/REPLACE blocks (it replaces the failed one; it is not applied on top of it).")


def feedback_messages(answer: str, feedback: str) -> list[dict[str, str]]:
    """The turn appended for the next attempt: the failed answer and what its checks said."""
    return [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"The checks failed on that patch.\n\n{feedback}\n\n{RETRY_REQUEST}"},
    ]
