"""The workspace code a dependent validated task is shown: as its dependencies' patches leave it.

A validated task that depends on other validated tasks of the same workspace is checked with their
passing patches applied first (`answer_checks.with_dependency_patches`). Its selection was made at
submission, from the commit, before any dependency ran; shown as it is, the model writes a diff
against code the check no longer has (a dependency changed the same function), and every model
fails with "the patch does not apply". So when the task runs, each selected piece is shown from
the files with those patches applied: its range moved by the lines the patches add or remove
before it, widened over a change inside it, and its text read from the patched file. The ranking
is not redone (the pieces stay the ones chosen for the task); a piece whose file the patches
delete is left out. The repository map after the pieces is kept as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.context.render import render_piece
from server.errors import WorkspaceError
from server.validation.worktree import apply_patch_in_worktree, run_git

__all__ = ["AFTER_DEPENDENCIES", "Hunk", "code_after_dependencies", "moved_range"]

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
    combined = "".join(p.rstrip("\n") + "\n" for p in patches)
    try:
        handle = await apply_patch_in_worktree(Path(str(spec["workspace"])), combined,
                                               base=str(spec.get("base") or "HEAD"), env=env)
    except WorkspaceError:
        return prompt
    async with handle:
        diff = await run_git(["diff", "-U0", "--no-color", "--no-renames", handle.base_commit], handle.path, env)
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
            file = handle.path / path
            moved = moved_range(int(item["start_line"]), int(item["end_line"]), hunks[path])
            if not file.is_file() or moved is None:
                continue  # deleted by a dependency
            lines = file.read_text(encoding="utf-8", errors="replace").split("\n")
            start, last = moved[0], min(moved[1], len(lines))
            text = "\n".join(lines[start - 1:last]) + "\n"
            out.append(render_piece(path, start, last, text))
        out.append(prompt[at:])
    changed = "".join(out)
    source = head.group("source")
    return changed.replace(head.group(0), f"## Code from the workspace ({source}, {AFTER_DEPENDENCIES})\n"
                           "Selected for this task; line numbers are the file's own after those changes.\n", 1)
