"""The SQLite backend: one aiosqlite connection, a lock file per owner, WAL.

Opening: parent directories, WAL, `synchronous=NORMAL` (a commit survives a process crash; only
an OS crash can lose the last transactions), busy timeout, foreign keys, migrations, then this
owner's row (which also proves the file is writable).

WAL checkpoints stay SQLite's own, inside the commit that crosses the mark, which keeps the WAL
bounded under a continuous stream of writes. The mark is 4000 pages (16 MB) rather than 1000:
a task's life writes ~20 pages, so a checkpoint (its copy and fsyncs, a few to 15 ms) lands on
~0.5% of tasks instead of ~2%, which keeps it out of the p99. A checkpointer on a second
connection was tried: it never catches up with a busy writer, so the WAL grew without limit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from server.errors import StoreError
from server.store.base import in_read_transaction, in_transaction, now_ts
from server.store.liveness import OwnerLock, owner_is_alive, remove_lock_file
from server.store.migrations import apply_migrations

__all__ = ["SqliteBackend"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def _prepare(conn: sqlite3.Connection, busy_timeout_ms: int, owner: str) -> list[str]:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("state database could not switch to WAL (journal_mode=%s)", mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA wal_autocheckpoint = 4000")
    conn.execute("PRAGMA journal_size_limit = 33554432")  # cap the WAL file left after a reset
    applied = apply_migrations(conn)
    conn.execute(
        "INSERT INTO owners (id, pid, host, started_at) VALUES (?, ?, ?, ?)",
        (owner, os.getpid(), socket.gethostname(), now_ts()),
    )
    return applied


def _claim(path: Path, owner: str) -> tuple[Path, OwnerLock]:
    # Resolved, so every process finds the same owners' lock directory even through a symlink.
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, OwnerLock(path, owner)


class SqliteBackend:
    kind = "sqlite"

    def __init__(self, path: Path, db: aiosqlite.Connection, lock: OwnerLock) -> None:
        self.path = path
        self.where = str(path)
        self._db: aiosqlite.Connection | None = db
        self._lock = lock

    @classmethod
    async def open(cls, path: Path, owner: str, busy_timeout_ms: int) -> tuple[SqliteBackend, list[str]]:
        """Open (creating if needed) the file, migrate it, register `owner`; the migrations applied.

        Raises:
            StoreError: the directory or file cannot be created, read or written.
        """
        try:
            path, lock = await asyncio.to_thread(_claim, path, owner)
        except OSError as exc:
            raise StoreError(f"state database {path}: cannot create its directory or lock file: {exc}") from exc
        db: aiosqlite.Connection | None = None
        try:
            db = await aiosqlite.connect(
                path, isolation_level=None, timeout=busy_timeout_ms / 1000, cached_statements=256
            )
            backend = cls(path, db, lock)
            applied = await backend._prepare_with_retries(busy_timeout_ms, owner)
        except (sqlite3.Error, StoreError, OSError) as exc:
            if db is not None:
                await db.close()
            lock.release()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"state database {path}: {exc}") from exc
        except BaseException:
            if db is not None:
                await db.close()
            lock.release()
            raise
        return backend, applied

    async def _prepare_with_retries(self, busy_timeout_ms: int, owner: str) -> list[str]:
        # Two processes creating the same new file race on the switch to WAL and on the first
        # migration; SQLite then answers SQLITE_BUSY at once (it skips the busy handler where
        # waiting could deadlock). `_prepare` is idempotent, so take turns and try again.
        deadline = asyncio.get_running_loop().time() + busy_timeout_ms / 1000
        delay = 0.01
        while True:
            try:
                return await self.run(_prepare, busy_timeout_ms, owner)
            except StoreError as exc:
                if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        db = self._db
        if db is None:
            raise StoreError(f"state database {self.path} is closed")
        try:
            conn = db._conn
            # aiosqlite's own queue to its worker thread: one round trip for the whole function.
            result: T = await db._execute(fn, conn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc
        except ValueError as exc:
            if "connection" in str(exc).lower():
                raise StoreError(f"state database {self.path} is closed") from exc
            raise
        return result

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.run(in_transaction, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.run(in_read_transaction, fn, *args)

    async def owner_alive(self, owner: str) -> bool:
        return owner_is_alive(self.path, owner)

    def forget_owner(self, owner: str) -> None:
        remove_lock_file(self.path, owner)

    async def close(self) -> None:
        db, self._db = self._db, None
        try:
            if db is not None:
                await db.close()
        finally:
            self._lock.release()
