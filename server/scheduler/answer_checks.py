"""The checks a validated task's answer must pass, read from the task's stored validation spec.

`check_answer` (validated.py) runs the project's checks on the answer's patch; an answer with no
diff that gives SEARCH/REPLACE edit blocks (`server.validation.edit_blocks`) or whole files under
their paths (the form the agents' role prompts ask for; `server.validation.whole_files`) is read as
the diff they make. The workflows add, all as data in the spec so a restarted server checks the
same way:

    "protected": [paths]     the tests written first: a patch touching them fails (test-first)
    "base_patch": diff       applied before the answer's patch (the tests written first); the
                             passing patch handed back is both together
    "must_change": [paths]   a checklist item's files: a patch that leaves one unchanged fails
    "required_tests": [ids]  a checklist item's tests: never forgiven as failing before the patch
                             (with "test_scope": "new")
    "command": [argv]        a checklist item's project command, run in the patched worktree
                             (no shell, the validation engine's allow-listed environment)
    "after_patches": [diffs]  the passing patches of the validated tasks it depends on, applied
                             first (a dependent of "fix the build" is checked on the fixed
                             build): the answer is read and checked against a commit holding
                             them (`dependency_view.commit_on_top`); the patch handed back is
                             its own only
    "phase": "tests"         test-first's first phase: the answer is tests, which must be
                             collected and fail on the current code

    verdict = await check_task_answer(text, spec, env)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from server.errors import WorkspaceError
from server.scheduler.dependency_view import commit_on_top
from server.scheduler.validated import Verdict, check_answer
from server.validation import apply_patch_in_worktree, extract_unified_diff
from server.validation.edit_blocks import edit_blocks_diff, has_edit_blocks
from server.validation.procs import child_env, run_process
from server.validation.shared_build import holding
from server.validation.whole_files import whole_files_diff
from server.validation.worktree import diff_files
from server.workflows.test_first import check_tests_fail_first, diff_touches

__all__ = ["check_task_answer", "run_item_command", "with_dependency_patches"]

_OUTPUT_TAIL = 3000


def _fail(status: str, feedback: str, patch: str | None, **report: Any) -> Verdict:
    return Verdict(False, status, json.dumps({"status": status, "passed": False, "error": feedback, **report}),
                   feedback, patch, None)


async def check_task_answer(text: str, spec: Mapping[str, Any], env: Mapping[str, str]) -> Verdict:
    """Check `text` against every rule of `spec` (see the module docstring), cheapest first."""
    if spec.get("phase") == "tests":
        return await _check_tests_first(text, spec, env)
    before = [str(p) for p in spec.get("after_patches") or ()]
    real_base = None
    if before and spec.get("workspace"):
        # read and checked against the code as the dependencies' patches leave it (`dependency_view`)
        try:
            real_base, on_top = await commit_on_top(Path(str(spec["workspace"])), str(spec.get("base") or "HEAD"),
                                                    before, env)
        except WorkspaceError as exc:
            return _fail("patch_failed", f"The patches of the tasks this one depends on do not apply together: {exc}",
                         None)
        spec = {**spec, "base": on_top}
    patch, failure, made = await _answer_patch(text, spec, env)
    if failure is not None:
        return failure
    if patch is not None and made:
        text = "```diff\n" + patch + "```"
    protected = tuple(str(p) for p in spec.get("protected") or ())
    if patch is not None and protected:
        touched = diff_touches(patch, protected)
        if touched:
            return _fail("edits_tests", f"Your patch edits {', '.join(touched)}, the tests written first; they "
                         "are the check and may not change. Change only the implementation.", patch,
                         files_changed=list(diff_files(patch)))
    must = [str(p) for p in spec.get("must_change") or ()]
    if patch is not None and must:
        missing = [p for p in must if p not in diff_files(patch)]
        if missing:
            return _fail("files_unchanged", f"This item is done only when these files change: "
                         f"{', '.join(missing)}. Your patch does not change them.", patch,
                         files_changed=list(diff_files(patch)))
    own = patch
    base = str(spec.get("base_patch") or "")
    if patch is not None and base:
        own = base.rstrip("\n") + "\n" + patch.rstrip("\n") + "\n"
        text = "```diff\n" + own + "```"
    # With the tests written first in front, the answer's own part must stay a diff git takes as it is.
    verdict = await check_answer(text, spec, env, lenient=not base)
    if real_base is not None and own is not None and verdict.patch is not None:
        verdict = _own_patch(verdict, own if base else verdict.patch, real_base)
    command = [str(a) for a in spec.get("command") or ()]
    if not verdict.passed or not command or verdict.patch is None:
        return verdict
    ok, output = await run_item_command(Path(str(spec["workspace"])), verdict.patch, command, env,
                                        timeout_s=float(spec.get("timeout_s", 300.0)))
    if ok:
        return verdict
    data = json.loads(verdict.report_json)
    data.update(status="failed", passed=False, command={"argv": command, "output": output})
    feedback = f"The item's check `{' '.join(command)}` failed on your patch:\n{output}\nSend a corrected patch."
    return Verdict(False, "failed", json.dumps(data, default=str), feedback, verdict.patch, verdict.base_commit)


def _own_patch(verdict: Verdict, own: str, base_commit: str) -> Verdict:
    """The verdict on the answer's own patch, checked on top of its dependencies' patches: it goes
    on `base_commit` after theirs (`apply_validated_patch` with all their ids)."""
    data = json.loads(verdict.report_json)
    data["files_changed"] = list(diff_files(own))
    data["checked_after_dependencies"] = True
    data["base_commit"] = base_commit
    return dataclasses.replace(verdict, patch=own, report_json=json.dumps(data, default=str), base_commit=base_commit)


async def with_dependency_patches(
    spec: dict[str, Any], ancestors: Sequence[tuple[str, str | None]], result_of: Callable[[str], Awaitable[str]],
) -> dict[str, Any]:
    """`spec` with the passing patches of the validated tasks it depends on (directly or not,
    dependencies first) to apply before its own: `ancestors` is (task id, validate_json) each."""
    patches = []
    for task_id, validate_json in ancestors:
        other = json.loads(validate_json) if validate_json else {}
        if not isinstance(other, dict) or other.get("workspace") != spec.get("workspace"):
            continue
        patch = extract_unified_diff(await result_of(task_id))
        if patch is not None:
            patches.append(patch)
    return {**spec, "after_patches": patches} if patches else spec


async def run_item_command(
    repo: Path, patch: str, argv: Sequence[str], env: Mapping[str, str], *, timeout_s: float
) -> tuple[bool, str]:
    """Run `argv` (never through a shell) in a temporary worktree with `patch` applied; whether
    it exited 0, and the tail of its output."""
    try:
        handle = await apply_patch_in_worktree(repo, patch, env=env)
    except WorkspaceError as exc:
        return False, f"the patch does not apply: {exc}"
    cargo = any((folder / "Cargo.toml").is_file() for folder in (handle.workspace, handle.path))
    async with handle, (holding(handle.workspace, env) if cargo else contextlib.nullcontext()):
        # a Rust project builds in the repository's shared cargo folder: one tree at a time (`shared_build`)
        try:
            result = await run_process(list(argv), cwd=handle.workspace, env=child_env(env),
                                       deadline=asyncio.get_running_loop().time() + timeout_s)
        except (FileNotFoundError, PermissionError) as exc:
            return False, f"cannot run {argv[0]!r}: {exc}"
    output = (result.stdout + result.stderr)[-_OUTPUT_TAIL:]
    if result.timed_out:
        return False, f"timed out after {timeout_s:g}s\n{output}"
    return result.exit_code == 0, output


async def _answer_patch(text: str, spec: Mapping[str, Any],
                        env: Mapping[str, str]) -> tuple[str | None, Verdict | None, bool]:
    """The change an answer makes: its unified diff, else its SEARCH/REPLACE blocks, else the whole
    files it gives under their paths (then True: a diff made here, not written in the answer); or
    why the answer cannot be taken as a change."""
    patch = extract_unified_diff(text)
    if patch is not None or not spec.get("workspace"):
        return patch, None, False
    workspace, base = Path(str(spec["workspace"])), str(spec.get("base") or "HEAD")
    if has_edit_blocks(text):  # SEARCH/REPLACE, aider's format
        edits = await edit_blocks_diff(workspace, base, text, env)
        if edits.failed:
            return None, _fail("patch_failed", "Your SEARCH/REPLACE blocks could not all be applied, so none was:\n- "
                               + "\n- ".join(edits.failed) + "\nSend corrected blocks, or one unified diff in a "
                               "```diff block.", None, blocks=list(edits.failed)), False
        return edits.diff, None, True
    whole = await whole_files_diff(workspace, base, text, env)  # whole files under their paths, as role prompts ask
    if whole.partial:
        return None, _fail("no_patch", f"Your answer shows only part of {', '.join(whole.partial)} where a whole "
                           "file or a diff was expected, and a part never replaces a file. Answer with one unified "
                           "diff in a ```diff block (--- a/ and +++ b/ paths from the repository root).", None), False
    return whole.diff, None, True


async def _check_tests_first(text: str, spec: Mapping[str, Any], env: Mapping[str, str]) -> Verdict:
    patch, failure, _ = await _answer_patch(text, spec, env)
    if failure is not None:
        return failure
    if patch is None:
        return _fail("no_patch", "Your answer contained no unified diff and no SEARCH/REPLACE blocks. Answer "
                     "with the new test file(s) as one patch in a ```diff block (--- /dev/null, +++ "
                     "b/tests/test_x.py).", None)
    verdict = await check_tests_fail_first(Path(str(spec["workspace"])), patch, env=env,
                                           timeout_s=float(spec.get("timeout_s", 300.0)))
    report = {"status": "passed" if verdict.ok else "tests_rejected", "passed": verdict.ok,
              "error": verdict.reason or None, "base_commit": verdict.base_commit,
              "files_changed": list(verdict.test_files), "failing_tests": list(verdict.failing_tests)}
    if not verdict.ok:
        feedback = f"Those tests were rejected: {verdict.reason}. Send a corrected patch with the tests."
        return Verdict(False, "tests_rejected", json.dumps(report), feedback, patch, verdict.base_commit)
    return Verdict(True, "passed", json.dumps(report), "", patch, verdict.base_commit)
