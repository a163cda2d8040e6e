"""The code a dependent validated task works on: its commit with its dependencies' patches applied.

A validated task that depends on other validated tasks of the same workspace is checked with their
passing patches applied first (`answer_checks.with_dependency_patches`). Those patches are
committed once, in a temporary worktree, as a commit of their own (`commit_on_top`; an unreachable
object in the repository's store, which git's garbage collection removes in time): the answer is
then read and checked against that commit as any other answer against HEAD is - a unified diff
with line numbers a little off or hunks out of form goes in by its text, SEARCH/REPLACE blocks are
found in the files as the dependencies left them - and what failed there before the answer is
what its tests are compared with.

Its selection was made at submission, from the commit, before any dependency ran; shown as it is,
the model writes against code the check no longer has (a dependency changed the same function). So
when the task runs, each selected piece is shown from that commit (`code_after_dependencies`): its
range moved by the lines the patches add or remove before it, widened over a change inside it. The
ranking is not redone (the pieces stay the ones chosen for the task); a piece whose file the
patches delete is left out. The repository map after the pieces is kept as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.context.render import render_piece
from server.errors import WorkspaceError
from server.validation.worktree import apply_patch_in_worktree, run_git

__all__ = ["AFTER_DEPENDENCIES", "Hunk", "code_after_dependencies", "commit_on_top", "moved_range"]

AFTER_DEPENDENCIES = "with the changes of the tasks this one depends on applied"
_HEAD = re.compile(r"^## Code from the workspace \((?P<source>[^)\n]*)\)\nSelected for this task; "
                   r"line numbers are the file's own\.\n", re.MULTILINE)
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


@dataclass(frozen=True)
class Hunk:
    """Old lines `old_start`..+`old_len` became new lines `new_start`..+`new_len` (git's -U0 form:
    a length of 0 means an insertion after, or a deletion at, the line its start names)."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int


def moved_range(start: int, end: int, hunks: Sequence[Hunk]) -> tuple[int, int] | None:
    """Lines `start`..`end` of the old file in the new one: shifted by the lines the hunks before
    them add or remove, widened over a hunk that replaces their first or last line; None when
    every line of them was deleted."""

    def shift(line: int) -> int:  # where an old line no hunk replaced went
        return line + sum(h.new_len - h.old_len for h in hunks
                          if (h.old_start < line if h.old_len == 0 else h.old_start + h.old_len - 1 < line))

    def replacing(line: int) -> Hunk | None:
        return next((h for h in hunks if h.old_len and h.old_start <= line < h.old_start + h.old_len), None)

    first, last = replacing(start), replacing(end)
    # git's -U0 header names the line before a deletion in the new file: the deleted lines' place is after it
    new_start = shift(start) if first is None else first.new_start + (0 if first.new_len else 1)
    new_end = shift(end) if last is None else last.new_start + last.new_len - (1 if last.new_len else 0)
    return (new_start, new_end) if new_end >= new_start else None


def _hunks_by_path(diff: str) -> dict[str, list[Hunk]]:
    hunks: dict[str, list[Hunk]] = {}
    path = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:].strip()
            path = name[2:] if name.startswith("b/") else ("" if name == "/dev/null" else name)
            hunks.setdefault(path, [])
        elif line.startswith("--- ") and line[4:].strip() != "/dev/null":
            path = line[4:].strip()
            path = path[2:] if path.startswith("a/") else path
        elif (m := _HUNK.match(line)) and path:
            old_len = 1 if m.group(2) is None else int(m.group(2))
            new_len = 1 if m.group(4) is None else int(m.group(4))
            hunks.setdefault(path, []).append(Hunk(int(m.group(1)), old_len, int(m.group(3)), new_len))
    return hunks


def _pieces(prompt: str, items: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, Mapping[str, Any]]]:
    """Where each selected item's rendered piece lies in `prompt` (start, end offsets), in order."""
    found = []
    at = 0
    for item in items:
        header = f"### {item['path']} (lines {item['start_line']}-{item['end_line']})\n"
        begin = prompt.find(header, at)
        if begin < 0:
            continue
        fence_line_end = prompt.find("\n", begin + len(header))
        fence = re.match(r"`+", prompt[begin + len(header):fence_line_end])
        if fence is None:
            continue
        close = prompt.find(f"\n{fence.group(0)}\n", fence_line_end)
        if close < 0:
            continue
        end = close + len(fence.group(0)) + 2
        found.append((begin, end, item))
        at = end
    return found


_ON_TOP: dict[tuple[str, str, str], str] = {}  # (repository, base commit, patches' hash) -> the commit
_IDENTITY = ["-c", "user.name=parallel-work-manager", "-c", "user.email=parallel-work-manager@localhost",
             "-c", "commit.gpgsign=false"]


async def commit_on_top(workspace: Path, base: str, patches: Sequence[str], env: Mapping[str, str]) -> tuple[str, str]:
    """(the commit `base` names, a commit holding `patches` applied on it, in order), made once per
    repository, base and patches for the server's life.

    Raises:
        WorkspaceError: not a repository or no such commit; PatchApplyError: the patches do not apply.
    """
    combined = "".join(p.rstrip("\n") + "\n" for p in patches)
    resolved = await run_git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], workspace, env)
    if resolved.exit_code != 0:
        raise WorkspaceError(f"{base!r} is not a commit in {workspace}")
    base_sha = resolved.stdout.strip()
    key = (str(workspace), base_sha, hashlib.sha256(combined.encode()).hexdigest())
    known = _ON_TOP.get(key)
    if known and (await run_git(["cat-file", "-e", f"{known}^{{commit}}"], workspace, env)).exit_code == 0:
        return base_sha, known
    async with await apply_patch_in_worktree(workspace, combined, base=base_sha, env=env) as handle:
        await run_git(["add", "--all"], handle.path, env)
        made = await run_git([*_IDENTITY, "commit", "-q", "--no-verify", "--allow-empty", "-m",
                              "the patches of the tasks this one depends on"], handle.path, env)
        head = await run_git(["rev-parse", "HEAD"], handle.path, env)
    if made.exit_code != 0 or head.exit_code != 0:
        raise WorkspaceError(f"the patches of the tasks this one depends on could not be committed: "
                             f"{made.stderr.strip()[-500:]}")
    _ON_TOP[key] = head.stdout.strip()
    return base_sha, _ON_TOP[key]


async def code_after_dependencies(prompt: str, selection: Mapping[str, Any], spec: Mapping[str, Any],
                                  env: Mapping[str, str]) -> str:
    """`prompt` (a task's rendered selection) with its pieces shown as the patches in
    `spec["after_patches"]` leave them; `prompt` itself when there are none or they do not apply
    (the check then says so)."""
    patches: Sequence[str] = spec.get("after_patches") or ()
    items = selection.get("files") or ()
    head = _HEAD.search(prompt)
    if not patches or not items or head is None:
        return prompt
    workspace = Path(str(spec["workspace"]))
    try:
        base, on_top = await commit_on_top(workspace, str(spec.get("base") or "HEAD"), patches, env)
    except WorkspaceError:
        return prompt
    diff = await run_git(["diff", "-U0", "--no-color", "--no-renames", "--no-ext-diff", base, on_top, "--"],
                         workspace, env)
    if diff.exit_code != 0:
        return prompt
    hunks = _hunks_by_path(diff.stdout)
    out: list[str] = []
    at = 0
    for begin, end, item in _pieces(prompt, items):
        path = str(item["path"])
        if path not in hunks:
            continue  # unchanged: the piece stays as it is
        out.append(prompt[at:begin])
        at = end
        shown = await run_git(["show", f"{on_top}:{path}"], workspace, env)
        moved = moved_range(int(item["start_line"]), int(item["end_line"]), hunks[path])
        if shown.exit_code != 0 or moved is None:
            continue  # deleted by a dependency
        lines = shown.stdout.split("\n")
        start, last = moved[0], min(moved[1], len(lines))
        out.append(render_piece(path, start, last, "\n".join(lines[start - 1:last]) + "\n"))
    out.append(prompt[at:])
    changed = "".join(out)
    source = head.group("source")
    return changed.replace(head.group(0), f"## Code from the workspace ({source}, {AFTER_DEPENDENCIES})\n"
                           "Selected for this task; line numbers are the file's own after those changes.\n", 1)
