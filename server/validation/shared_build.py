"""Cargo runs in worktrees that share one build folder, each judged on its own tree's code.

Every worktree of a repository builds in one folder of the server's cache
(`installed.share_cargo_target`), so dependencies compile once. But cargo decides whether a
workspace crate's build is fresh by modification times alone: its sources against the record of
the last build (a dep-info file stamped with the time that build started), not by content or by
folder. A worktree made before another worktree's build has older files, so cargo took that build
(another patch's code) for its own: a wrong patch passed, a compile error passed.

`holding(folder, env)` wraps each cargo run in such a worktree:

- the build folder's lock is held for the whole run: an OS file lock beside the folder (several
  server processes may share the cache), queued first on an asyncio lock within one process.
  No other tree builds there, or replaces a test binary, while this one builds and runs.
- Inside the lock, before the run, the tree's own files (not the links to the checkout's
  installed dependencies) get the current time: later than every record a run that ended
  before the lock was taken can have left, so cargo rebuilds the workspace crates from this
  tree. Registry and git dependencies are fingerprinted by version, not by time: they stay
  built. The lock file names the tree that ran last; that tree is not stamped again (an edit it
  made since is newer than its build anyway), so an agent's repeated checks stay incremental.

A run at the base commit (`baseline`) is a check in a worktree like any other, and goes through
the same lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from server.validation.installed import DEPENDENCY_DIRS, shared_cargo_target

__all__ = ["holding", "stamp_tree"]

_POLL_S = 0.05  # another process holds the file lock: how often to try again
_NOT_SOURCES = DEPENDENCY_DIRS | {".git", "target"}
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def holding(folder: Path, env: Mapping[str, str]) -> AsyncIterator[None]:
    """Hold the shared build folder of the worktree holding `folder` (a cargo project's root) and
    make that tree's files the newest there; nothing for a folder in no such worktree."""
    shared = shared_cargo_target(folder, env)
    if shared is None:
        yield
        return
    tree, build = shared
    lock_file = build.with_name(build.name + ".lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    local = _LOCKS.setdefault(asyncio.get_running_loop(), {}).setdefault(lock_file, asyncio.Lock())
    async with local:
        # opened here, not in a thread: a cancelled wait must not leave a descriptor behind
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(_POLL_S)
            me = f"{tree}\n{os.stat(tree).st_ino}\n".encode()
            if os.pread(fd, 4096, 0) != me:
                await asyncio.to_thread(stamp_tree, tree, time.time_ns())
                os.ftruncate(fd, 0)
                os.pwrite(fd, me, 0)
            yield
        finally:
            os.close(fd)  # releases the lock


def stamp_tree(tree: Path, when_ns: int) -> int:
    """Give every file of the worktree `tree` the modification time `when_ns`, leaving out git's
    files, build output and the mirrored dependency folders (never following a link, which may
    lead into the user's checkout); how many were stamped."""
    stamped = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d not in _NOT_SOURCES]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name == ".git" or os.path.islink(path):
                continue
            try:
                os.utime(path, ns=(when_ns, when_ns), follow_symlinks=False)
            except OSError:
                continue
            stamped += 1
    return stamped
