"""The server's temporary folders (worktrees, a validation's scratch) outlive no server.

Each is made by `make_dir(prefix)` in the system's temporary folder, holding an owner file that
names the process (its pid, its start time, so a reused pid is not taken for it, and the host).
It goes away in one of three ways:

- its maker removes it (a worktree's `cleanup()`, the end of a validation) and calls `forget`;
- the server stops in the middle of a check (SIGTERM: the stdio server shuts down as on Ctrl+C,
  uvicorn on its own; a cleanup cut short): `remove_own`, run at the interpreter's exit, removes
  the folders this process still holds and prunes their repositories' worktree lists;
- the process was killed outright (SIGKILL, a crash): `sweep_stale`, run before a new worktree
  is made (at most once a minute), removes every such folder whose owner no longer runs; a
  repository's registrations of removed worktrees go with `git worktree prune`, which
  `worktree.open_worktree` runs before adding one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PREFIXES", "forget", "make_dir", "remove_own", "sweep_stale", "temp_dir"]

PREFIXES = ("pwm-worktree-", "pwm-agent-", "pwm-validate-")
OWNER_FILE = ".pwm-owner"
_SWEEP_EVERY_S = 60.0

_own: dict[Path, tuple[int, Path | None]] = {}  # folder -> (the owner's pid, the repository whose worktree it holds)
_lock = threading.Lock()
_last_sweep = -_SWEEP_EVERY_S
_at_exit = False


def _start_time(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, Linux); "" when unknown, "ended" for a
    process that has exited and awaits its parent (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2:].split()
        return "ended" if fields[0] == b"Z" else fields[19].decode()
    except (OSError, ValueError, IndexError):
        return ""


def _owner_line() -> str:
    pid = os.getpid()
    return f"{pid} {_start_time(pid) or '-'} {socket.gethostname()}\n"


def make_dir(prefix: str, repo: Path | None = None) -> Path:
    """A new folder in the temporary folder, owned by this process (`repo`: the repository whose
    worktree it will hold, pruned when it is removed at exit)."""
    global _at_exit
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(_owner_line(), encoding="utf-8")
    with _lock:
        _own[path] = (os.getpid(), repo)
        if not _at_exit:
            _at_exit = True
            atexit.register(remove_own)
    return path


def forget(path: Path) -> None:
    """`path` was removed by its maker."""
    with _lock:
        _own.pop(path, None)


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """`make_dir` for the length of a block, removed after it."""
    path = make_dir(prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        forget(path)


def remove_own() -> list[Path]:
    """Remove every folder this process still holds, and prune the worktree lists of their
    repositories (git's, synchronously: the event loop is gone at exit); those removed. A forked
    child's copy of the list is not its own."""
    me = os.getpid()
    with _lock:
        held = [(path, repo) for path, (pid, repo) in _own.items() if pid == me]
        _own.clear()
    for path, _repo in held:
        shutil.rmtree(path, ignore_errors=True)
    for repo in {repo for _path, repo in held if repo is not None}:
        _prune(repo)
    return [path for path, _repo in held]


def sweep_stale(folder: Path | None = None, *, force: bool = False) -> list[Path]:
    """Remove the folders of `PREFIXES` in `folder` (the temporary folder) whose owner no longer
    runs on this host; at most once a minute unless `force`; those removed."""
    global _last_sweep
    now = time.monotonic()
    with _lock:
        if not force and now - _last_sweep < _SWEEP_EVERY_S:
            return []
        _last_sweep = now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder or tempfile.gettempdir()))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(PREFIXES) and entry.is_dir(follow_symlinks=False) and _abandoned(Path(entry.path)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _abandoned(path: Path) -> bool:
    """Whether the owner `path` names has ended (a folder naming none, or another host, is kept)."""
    try:
        pid_text, start, host = (path / OWNER_FILE).read_text(encoding="utf-8").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process
    now = _start_time(pid)
    return now == "ended" or (start != "-" and now not in ("", start))  # or the pid now names another process


def _prune(repo: Path) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "worktree", "prune"],
                       cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30, check=False)
