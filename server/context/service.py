"""The one entry point: a task, a workspace, named files and a budget in; a `Selection` out.

Indexes are opened once per repository and kept for the process (each behind a lock: SQLite
connections are not shared across threads at once). Callers in async code run
`select_context` in a worker thread; it is CPU and disk bound.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from server.context.files import MAX_FILE_BYTES, git, resolve_commit
from server.context.index import RepoIndex, index_path
from server.context.request import check_requests, repository_root
from server.context.select import SelectParams, select_from_snapshot
from server.context.types import Selection
from server.errors import InputError

if TYPE_CHECKING:  # the type only: index worker processes import this package
    from server.settings import Settings

__all__ = ["ContextOptions", "close_indexes", "options_for", "select_context"]

_MIN_BUDGET = 64


@dataclass(frozen=True)
class ContextOptions:
    cache_dir: Path
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = MAX_FILE_BYTES
    # How long an async caller waits for a selection (`server.context.waiting`); None: as long as it takes.
    wait_s: float | None = None


def options_for(settings: Settings) -> ContextOptions:
    """The server's options: its cache, the user's exclusions, and a tool call's time to wait."""
    return ContextOptions(settings.cache_dir, settings.context_exclude, wait_s=settings.tool_time_limit_s)


_lock = threading.Lock()
_indexes: dict[Path, tuple[RepoIndex, threading.Lock]] = {}


def _open(root: Path, options: ContextOptions) -> tuple[RepoIndex, threading.Lock]:
    db = index_path(options.cache_dir, root)
    with _lock:
        found = _indexes.get(db)
        if found is not None and found[0].exclude == options.exclude and found[0].max_file_bytes == options.max_file_bytes:
            return found
        if found is not None:
            found[0].close()
        entry = (RepoIndex(root, db, exclude=options.exclude, max_file_bytes=options.max_file_bytes), threading.Lock())
        _indexes[db] = entry
        return entry


def close_indexes() -> None:
    """Close every open index (tests and shutdown)."""
    with _lock:
        for index, _ in _indexes.values():
            index.close()
        _indexes.clear()


def select_context(
    workspace: Path,
    task: str,
    files: Sequence[str],
    budget_tokens: int,
    options: ContextOptions,
    *,
    at_head: bool = False,
    field_prefix: str = "",
    params: SelectParams | None = None,
    mode: str = "code",
) -> Selection:
    """What the model sees for `task` in `workspace` (already confined to the allowed roots).

    `at_head`: read the committed tree at HEAD (what a validated task's worktree is made from)
    instead of the working tree with its uncommitted edits. `mode` "summary": the repository's
    structure and latest commits after the named files, instead of ranked code (`server.context.summary`).

    Raises:
        WorkspaceError: `workspace` is not in a git repository, or `at_head` and it has no commit.
        InputError: a bad `files` entry or budget (the field is named).
    """
    if budget_tokens < _MIN_BUDGET:
        raise InputError(f"{field_prefix}context_budget_tokens", f"{budget_tokens} is too small to show any code",
                         f"at least {_MIN_BUDGET}, or omit it to follow the model's context window")
    root = repository_root(workspace, f"{field_prefix}workspace")
    commit = None
    if at_head:
        commit = resolve_commit(root)
        if commit is None:
            from server.errors import WorkspaceError

            raise WorkspaceError(f"{field_prefix}workspace: {str(root)!r} has no commit yet; commit the files first")
    commits = _latest_commits(root, commit) if mode == "summary" else ()  # git, not the index: outside its lock
    index, lock = _open(root, options)
    with lock:
        snapshot = index.snapshot(commit)
        requested = check_requests(files, workspace, root, snapshot, options.exclude, f"{field_prefix}files")
        selection = select_from_snapshot(snapshot, task, requested, budget_tokens, params, mode=mode, commits=commits,
                                         focus=workspace_folder(workspace, root))
        repo_tokens = snapshot.total_chars() // 4
    from dataclasses import replace

    return replace(selection, repo_tokens=repo_tokens)


def workspace_folder(workspace: Path, root: Path) -> str:
    """The folder of the repository at `root` that `workspace` is, from the root and ending in "/"
    ("" for the root itself)."""
    try:
        inside = workspace.resolve().relative_to(root.resolve())
    except ValueError:
        return ""
    return "" if inside == Path() else f"{inside.as_posix()}/"


def _latest_commits(root: Path, commit: str | None, count: int = 10) -> tuple[str, ...]:
    """The `count` latest commit subjects up to `commit` (HEAD when None), `<short hash> <subject>`."""
    try:
        out = git(root, "log", f"-n{count}", "--format=%h %s", commit or "HEAD", "--")
    except (subprocess.CalledProcessError, OSError):
        return ()  # no commit yet
    return tuple(line for line in out.decode(errors="replace").splitlines() if line.strip())
