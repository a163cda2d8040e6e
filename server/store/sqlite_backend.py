"""The SQLite backend: one aiosqlite connection, a lock file per owner, WAL.

Opening: parent directories, WAL, `synchronous=NORMAL` (a commit survives a process crash; only
an OS crash can lose the last transactions), busy timeout, foreign keys, migrations, then this
owner's row (which also proves the file is writable).

WAL checkpoints stay SQLite's own, inside the commit that crosses the mark, which keeps the WAL
bounded under a continuous stream of writes. The mark is 4000 pages (16 MB) rather than 1000:
a task's life writes ~20 pages, so a checkpoint (its copy and fsyncs, a few to 15 ms) lands on
~0.5% of tasks instead of ~2%, which keeps it out of the p99. A checkpointer on a second
connection was tried: it never catches up with a busy writer, so the WAL grew without limit.

Brief transactions (`write_brief`, `read_brief`: a task's dispatch read, its first attempt, its
outcome) run on the event loop itself when the connection is idle: one such transaction costs
tens of microseconds of CPU, while the hand-over to the worker thread and back costs as much
again and, on a busy machine, waits for the OS to schedule that thread (milliseconds per task
measured with 2 cores shared by 7 processes). The connection's lock keeps the loop and the
thread from ever using it at once; the loop never waits for a lock: when the thread holds or
has queued work, or another process holds the write lock (busy timeout 0 on the loop), the
transaction goes to the thread as any other. On the loop, a commit must not run a checkpoint
(a few ms of copying and fsync), so SQLite's automatic checkpoint is off on this connection
and the thread runs a PASSIVE checkpoint once the rows changed since the last one pass the
mark — the same bound on the WAL, off the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import threading
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

# Rows changed between two checkpoints (a task's life changes ~5 rows, ~20 pages written).
_CHECKPOINT_CHANGES = 1000


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _prepare(conn: sqlite3.Connection, busy_timeout_ms: int, owner: str) -> list[str]:
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("state database could not switch to WAL (journal_mode=%s)", mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run on the thread (see the docstring)
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

    def __init__(self, path: Path, db: aiosqlite.Connection, lock: OwnerLock, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.where = str(path)
        self._db: aiosqlite.Connection | None = db
        self._lock = lock
        self._busy_timeout_ms = int(busy_timeout_ms)
        # Held by whoever uses the connection: the worker thread, or the loop for a brief transaction.
        self._using = threading.Lock()
        self._queued = 0  # thread calls not yet returned: a brief transaction must not overtake them
        self._checkpointed_at = 0  # `total_changes` at the last checkpoint

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
            db = await aiosqlite.connect(  # the loop runs brief transactions too, under `_using`
                path, isolation_level=None, timeout=busy_timeout_ms / 1000, cached_statements=256,
                check_same_thread=False,
            )
            backend = cls(path, db, lock, busy_timeout_ms)
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
        self._queued += 1
        try:
            conn = db._conn
            # aiosqlite's own queue to its worker thread: one round trip for the whole function.
            result: T = await db._execute(self._locked, fn, conn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc
        except ValueError as exc:
            if "connection" in str(exc).lower():
                raise StoreError(f"state database {self.path} is closed") from exc
            raise
        finally:
            self._queued -= 1
        if conn.total_changes - self._checkpointed_at >= _CHECKPOINT_CHANGES:
            await self._checkpoint(db, conn)
        return result

    def _locked(self, fn: Callable[..., T], conn: sqlite3.Connection, *args: Any) -> T:
        # The connection's busy timeout is 0 (the loop never waits); the thread waits its full one.
        with self._using:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            try:
                return fn(conn, *args)
            finally:
                conn.execute("PRAGMA busy_timeout = 0")

    async def _checkpoint(self, db: aiosqlite.Connection, conn: sqlite3.Connection) -> None:
        self._checkpointed_at = conn.total_changes
        self._queued += 1
        try:
            await db._execute(self._locked, _checkpoint, conn)
        except sqlite3.Error as exc:  # a reader holding old pages; the next mark tries again
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
        finally:
            self._queued -= 1

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.run(in_transaction, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.run(in_read_transaction, fn, *args)

    async def write_brief(self, fn: Callable[..., T], *args: Any) -> T:
        """`write` for a transaction of a few statements: on the loop when the connection is idle."""
        return await self._brief(in_transaction, fn, *args)

    async def read_brief(self, fn: Callable[..., T], *args: Any) -> T:
        """`read` for a few indexed look-ups: on the loop when the connection is idle."""
        return await self._brief(in_read_transaction, fn, *args)

    async def _brief(self, body: Callable[..., T], fn: Callable[..., Any], *args: Any) -> T:
        db = self._db
        if db is None or self._queued or not self._using.acquire(blocking=False):
            return await self.run(body, fn, *args)
        conn = db._conn
        try:
            result = body(conn, fn, *args)  # busy timeout 0: never wait on the loop for another process
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StoreError(f"state database {self.path}: {exc}") from exc
            busy = True
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc
        else:
            busy = False
        finally:
            self._using.release()
        if busy:  # another process is writing: wait for it on the thread, as any transaction
            return await self.run(body, fn, *args)
        if conn.total_changes - self._checkpointed_at >= _CHECKPOINT_CHANGES:
            await self._checkpoint(db, conn)
        return result

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
