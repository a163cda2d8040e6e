"""What a Python test runner prints of an exception, read back: the exception's own line and where
it was raised, with the run's absolute paths (a temporary worktree's) written from the workspace,
so the same error reads the same in any worktree and a model is shown paths it knows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from server.validation.checks_base import rel_file

__all__ = ["cause_of", "from_workspace"]

_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Failed|Failure)\b")
_PYTEST_FRAME = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+): in ")
_FILE_LINE = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def from_workspace(text: str, workspace: Path, top: Path) -> str:
    """`text` with absolute paths inside `top` (the repository's root) written from `workspace`, and
    object addresses (`0x7f...`), which differ from run to run, left out."""
    text = text.replace(f"{workspace}{os.sep}", "")
    if top != workspace:
        text = text.replace(f"{top}{os.sep}", os.path.relpath(top, workspace) + os.sep)
    return _ADDRESS.sub("0x…", text)


def cause_of(traceback: str, base: Path, workspace: Path, top: Path) -> str:
    """The exception a traceback ends in, with where it was raised: pytest's (`E   ` lines after
    `file.py:N: in ...` frames) or the standard library's (`File "...", line N` frames), e.g.
    `SyntaxError: '(' was never closed (dates/parse.py:7)`; file names relative to `base` are read
    from there. "" when there is no traceback."""
    lines = traceback.splitlines()
    told = [line[1:].removeprefix("   ") for line in lines if line.startswith("E ")]  # pytest's own report
    if not told:
        return _plain_cause(lines, workspace, top)
    flush = [line for line in told if line and not line[0].isspace()]
    exception = next((line for line in reversed(flush) if _EXCEPTION.match(line)), flush[-1] if flush else told[-1])
    where = next((m for m in (_FILE_LINE.match(line) for line in reversed(told)) if m), None)  # a SyntaxError's
    if where is None:
        where = next((m for m in (_PYTEST_FRAME.match(line) for line in reversed(lines)) if m), None)
    return _with_place(exception, where, base, workspace, top)


def _plain_cause(lines: list[str], workspace: Path, top: Path) -> str:
    frames = [i for i, line in enumerate(lines) if _FILE_LINE.match(line)]
    if not frames:
        return ""
    after = lines[frames[-1] + 1:]
    # a SyntaxError's own `File` line is followed by its code and a caret, indented like a frame's code
    exception = next((line for line in after if line and not line[0].isspace()), "")
    return _with_place(exception, _FILE_LINE.match(lines[frames[-1]]), workspace, workspace, top)


def _with_place(exception: str, where: re.Match[str] | None, base: Path, workspace: Path, top: Path) -> str:
    exception = from_workspace(exception.strip(), workspace, top)
    if where is None:
        return exception
    name = from_workspace(rel_file(where["file"], base, workspace), workspace, top)
    return f"{exception} ({name}:{where['line']})"
