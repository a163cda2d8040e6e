"""A model's answer given as whole files under their paths, turned into a unified diff.

The agents' role prompts ask for "the full contents of every file you change, each under its
path", and weaker models keep to that form even when a task asks for a diff. Such an answer is
read as: a fenced code block whose info string (```python:src/app.py, ```src/app.py) or the line
just above it (### src/app.py, **src/app.py**, File: `src/app.py`) names a path. A path the
commit holds is a changed file, any other path under an existing folder a new one.

A block that shows only part of a file must never replace the file: a block counts as the whole
file only when it keeps at least `KEEP_SHARE` of the file's non-blank lines and is at least half
its length. One block failing that makes the whole answer unusable (no diff, the paths named in
`partial` for the retry's feedback), so a fix to one file never comes back with another cut short.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from server.validation.procs import child_env
from server.validation.worktree import RepoFiles, repo_files, run_git

__all__ = ["KEEP_SHARE", "WholeFiles", "file_diff", "named_path", "whole_files_diff"]

KEEP_SHARE = 0.6
_BLOCK = re.compile(r"(?m)^(?P<above>[^\n]*)\n(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.DOTALL)  # ```` fences hold a file that has ``` lines (Markdown), closed by ````
_PATHLIKE = re.compile(r"[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*\.[A-Za-z0-9]+")


@dataclass(frozen=True)
class WholeFiles:
    """What an answer of whole files makes: the diff (None: no change to take), and the paths
    whose block showed only part of the file (any of them makes the diff None)."""

    diff: str | None
    partial: tuple[str, ...] = ()


async def whole_files_diff(repo: Path, base: str, text: str, env: Mapping[str, str]) -> WholeFiles:
    """The unified diff that turns the files `text` gives whole into the files at `base` of
    `repo` (a git work tree); no diff when the answer names no file, or shows part of one."""
    env = child_env(env)
    files = await repo_files(repo, base, env)
    if files is None:
        return WholeFiles(None)
    tracked = files.tracked
    pieces: list[str] = []
    partial: list[str] = []
    seen: set[str] = set()
    for match in _BLOCK.finditer("\n" + text):
        path = named_path(match.group("info"), match.group("above"), files)
        if path is None or path in seen:
            continue
        seen.add(path)
        new = match.group("body")
        new = new if new.endswith("\n") else new + "\n"
        if path in tracked:
            shown = await run_git(["show", f"{base}:{path}"], repo, env)
            if shown.exit_code != 0:
                return WholeFiles(None)
            old = shown.stdout
            if not _is_whole(old, new):
                partial.append(path)
            elif old != new:
                pieces.append(file_diff(path, old, new))
        else:
            pieces.append(file_diff(path, None, new))
    if partial:
        return WholeFiles(None, tuple(partial))
    return WholeFiles("".join(pieces) or None)


def named_path(info: str, above: str, files: RepoFiles) -> str | None:
    """The first path-like word of `info`, else of `above`, that names a file of `files` or a new
    file in one of its folders (`RepoFiles.resolve`), as a path from the root; never absolute or
    with `..`."""
    for source in (info, above):
        for candidate in _PATHLIKE.findall(source.replace("\\", "/")):
            candidate = candidate.removeprefix("./")
            pure = PurePosixPath(candidate)
            if ".." in pure.parts or pure.is_absolute():
                continue
            found = files.resolve(candidate)
            if found is not None:
                return found
    return None


def _is_whole(old: str, new: str) -> bool:
    kept = [line.strip() for line in old.splitlines() if line.strip()]
    if not kept:
        return True
    given = {line.strip() for line in new.splitlines()}
    share = sum(1 for line in kept if line in given) / len(kept)
    return share >= KEEP_SHARE and len(new.splitlines()) * 2 >= len(old.splitlines())


def file_diff(path: str, old: str | None, new: str) -> str:
    """The unified diff from `old` (None: a new file) to `new` for `path`, as git applies it."""
    before = [] if old is None else old.splitlines(keepends=True)
    lines = list(difflib.unified_diff(before, new.splitlines(keepends=True),
                                      "/dev/null" if old is None else f"a/{path}", f"b/{path}"))
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
