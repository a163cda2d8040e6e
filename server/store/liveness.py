"""Which Store instances are alive: each holds an exclusive lock on its own lock file.

Several server processes may share one database file, so crash recovery must only settle the
calls of an owner that is really gone. The operating system drops a process's file locks when it
dies, even by SIGKILL, so "its lock file can be locked by someone else" means "dead" with no
heartbeat and no pid reuse to worry about. Lock files live next to the database in
`.<db name>.owners/<owner id>.lock`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["OwnerLock", "owner_is_alive", "owners_dir", "remove_lock_file"]


def owners_dir(db_path: Path) -> Path:
    return db_path.parent / f".{db_path.name}.owners"


def _lock_path(db_path: Path, owner: str) -> Path:
    return owners_dir(db_path) / f"{owner}.lock"


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        # flock locks belong to the open file description, so a second open in the same
        # process conflicts too (unlike fcntl record locks).
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class OwnerLock:
    """Held for the whole life of one Store instance."""

    def __init__(self, db_path: Path, owner: str) -> None:
        self.path = _lock_path(db_path, owner)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(self._fd):
            os.close(self._fd)
            self._fd = None
            raise OSError(f"could not lock {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        _unlock(fd)
        os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


def owner_is_alive(db_path: Path, owner: str) -> bool:
    """True when the owner's process still holds its lock."""
    path = _lock_path(db_path, owner)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def remove_lock_file(db_path: Path, owner: str) -> None:
    with contextlib.suppress(OSError):
        _lock_path(db_path, owner).unlink()
