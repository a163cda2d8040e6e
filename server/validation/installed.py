"""A worktree sees the dependencies installed in the checkout it was made from.

A task's patch is checked (and an agent works) in a fresh git worktree, which holds the tracked
files only: a project's `node_modules` and its `.venv` are ignored by git, so `npm test` found no
`mocha` / `jest` / `vitest` there, and pytest ran without the project's packages. Each ignored
dependency directory of the checkout (`node_modules`, `.venv`, `venv`, at any depth) is mirrored
into the worktree at the same place: a real directory whose entries are symbolic links to the
checkout's entries. A real directory, not one link, because git's usual `node_modules/` pattern
matches directories only: a link in its place would show as a new file in the worktree's status
and in an agent's diff. Nothing in the checkout is written; removing the worktree removes the
links, never what they point at.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

__all__ = ["DEPENDENCY_DIRS", "dependency_dirs", "mirror"]

DEPENDENCY_DIRS = frozenset({"node_modules", ".venv", "venv"})


def dependency_dirs(listing: str) -> list[str]:
    """The dependency directories among `git ls-files --others --ignored --exclude-standard
    --directory -z`'s entries (paths from the repository root, with a trailing "/")."""
    out: list[str] = []
    for entry in listing.split("\0"):
        if not entry.endswith("/"):
            continue
        rel = PurePosixPath(entry.rstrip("/"))
        if rel.name in DEPENDENCY_DIRS and not (DEPENDENCY_DIRS & set(rel.parts[:-1])):
            out.append(rel.as_posix())
    return out


def mirror(checkout: Path, tree: Path, rels: Iterable[str]) -> list[str]:
    """Mirror each of `rels` from `checkout` into `tree` where the tree has its parent folder and
    nothing in its place; the ones mirrored."""
    made: list[str] = []
    for rel in rels:
        source, target = checkout / rel, tree / rel
        if not source.is_dir() or not target.parent.is_dir() or os.path.lexists(target):
            continue
        try:
            target.mkdir()
            for entry in os.scandir(source):
                os.symlink(entry.path, target / entry.name, target_is_directory=entry.is_dir())
        except OSError:
            continue  # a half-made mirror still serves what it holds; checks name what is missing
        made.append(rel)
    return made
