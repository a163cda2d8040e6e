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

A Rust project's build folder is not mirrored (cargo would write into the checkout's): the
worktree's parent folder gets a `.cargo/config.toml` naming one build folder per repository in
the server's cache, so the attempts on a repository compile its dependencies once, not once per
attempt. Cargo reads that file as it walks up from the worktree; a `target-dir` the project's own
config or `CARGO_TARGET_DIR` sets still wins.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

__all__ = ["DEPENDENCY_DIRS", "cargo_target", "dependency_dirs", "mirror", "share_cargo_target"]

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


def cargo_target(repo_root: Path, env: Mapping[str, str]) -> Path:
    """The build folder the worktrees of `repo_root` share, in the server's cache (XDG)."""
    cache = env.get("XDG_CACHE_HOME", "").strip() or str(Path(env.get("HOME") or Path.home()) / ".cache")
    digest = hashlib.sha256(str(repo_root.resolve()).encode()).hexdigest()[:16]
    return Path(cache) / "parallel-work-manager" / "cargo-target" / f"{repo_root.name[:40]}-{digest}"


def share_cargo_target(worktree_parent: Path, repo_root: Path, env: Mapping[str, str]) -> None:
    """Point cargo runs under `worktree_parent` at the repository's shared build folder."""
    config = worktree_parent / ".cargo" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    # a TOML basic string: JSON's escaping of a path is valid there
    config.write_text(f"[build]\ntarget-dir = {json.dumps(str(cargo_target(repo_root, env)))}\n", encoding="utf-8")
