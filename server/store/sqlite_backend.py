"""The SQLite backend: one connection, a lock file per owner, WAL.

Opening: parent directories, WAL, `synchronous=NORMAL` (a commit survives a process crash; only
an OS crash can lose the last transactions), foreign keys, migrations, then this owner's row
(which also proves the file is writable).

Where a transaction runs. Most run on aiosqlite's worker thread, waiting out another process's
write lock for up to the busy timeout. The few the scheduler runs for every task (`quick=True`:
a handful of rows by key) run on the event loop's own thread when the connection is idle: a
sub-millisecond WAL transaction costs less than its two thread hand-offs, and on a loaded
machine each hand-off also waits for the other thread to be scheduled (measured: 1.5-2 ms of a
task's 2 ms before, 0.7 ms after). Such a transaction never waits on the loop thread: the
connection's busy timeout is 0 there, and a `database is locked` (another process writing)
rolls it back and sends it to the worker thread, which applies the full timeout. Transaction
bodies are pure functions of the connection and their arguments, so running one again after a
rollback is safe. While anything is queued on the thread, quick ones queue behind it (one
connection, used by one thread at a time, in order).

WAL checkpoints run on the worker thread too, never inside a commit on the loop thread: every
`_checkpoint_every` write transactions a PASSIVE checkpoint is queued (tasks that need the
connection meanwhile wait behind it, the loop does not); the interval adapts so each copies
about 4000 pages (16 MB), which keeps a checkpoint's copy and fsyncs (a few to 15 ms) on ~0.5%
of tasks. On the same connection no commit can land during the checkpoint, so it always
completes and the next write restarts the WAL (a checkpointer on a second connection was tried
before: it never catches up with a busy writer). SQLite's own autocheckpoint stays as a safety
net at twice the mark.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from server.errors import StoreError
from server.store.base import in_read_transaction, in_transaction, now_ts
from server.store.liveness import OwnerLock, owner_is_alive, remove_lock_file
from server.store.migrations import apply_migrations

__all__ = ["SqliteBackend"]

log = logging.getLogger(__name__)
T = TypeVar("T")


# Binding None: sqlite3 finds no adapter for it and then asks the protocol and the value to adapt
# themselves, raising and clearing two AttributeErrors (with their formatted messages) on every
# None parameter: ~0.8 us each, and a task binds about ten. Found in the registry,
# a C function that returns None binds NULL as before for a third of that. (Process-wide, like
# every sqlite3 adapter; the value bound is the same.)
sqlite3.register_adapter(type(None), cast(Callable[[None], None], {}.get))

# Pages a WAL checkpoint should copy (see the module docstring), and SQLite's own mark above it.
CHECKPOINT_PAGES = 4000
AUTOCHECKPOINT_PAGES = 2 * CHECKPOINT_PAGES


def _prepare(conn: sqlite3.Connection, owner: str) -> list[str]:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("state database could not switch to WAL (journal_mode=%s)", mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    conn.execute("PRAGMA journal_size_limit = 33554432")  # cap the WAL file left after a reset
    applied = apply_migrations(conn)
    conn.execute(
        "INSERT INTO owners (id, pid, host, started_at) VALUES (?, ?, ?, ?)",
        (owner, os.getpid(), socket.gethostname(), now_ts()),
    )
    return applied


def _patiently(conn: sqlite3.Connection, busy_timeout_ms: int, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` on the worker thread, waiting up to the busy timeout for another process's lock
    (the connection's own timeout is 0, for the loop thread)."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    try:
        return fn(conn, *args)
    finally:
        conn.execute("PRAGMA busy_timeout = 0")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _now_or_never(
    conn: sqlite3.Connection, begin: str | None, fn: Callable[..., T], *args: Any
) -> tuple[bool, T | None]:
    """Run `fn` in one transaction (none with `begin` None: autocommit) without waiting for any
    lock: (True, its result), or (False, None) when the database is locked (everything rolled back)."""
    try:
        if begin is None:
            return True, fn(conn, *args)
        conn.execute(begin)
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if _is_busy(exc):
            return False, None
        raise
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return True, result


def _checkpoint(conn: sqlite3.Connection) -> int:
    """A PASSIVE checkpoint; the pages the WAL held."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[1]) if row is not None else 0


def _claim(path: Path, owner: str) -> tuple[Path, OwnerLock]:
    # Resolved, so every process finds the same owners' lock directory even through a symlink.
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, OwnerLock(path, owner)


class SqliteBackend:
    kind = "sqlite"

    def __init__(self, path: Path, db: aiosqlite.Connection, lock: OwnerLock, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        self.where = str(path)
        self._db: aiosqlite.Connection | None = db
        self._lock = lock
        self._busy_timeout_ms = busy_timeout_ms
        self._queued = 0  # calls handed to the worker thread and not yet back
        self._writes = 0  # write transactions since the last checkpoint was queued
        self._checkpoint_every = 256  # adapted to the pages each checkpoint finds (CHECKPOINT_PAGES)
        self._checkpointing: asyncio.Task[None] | None = None

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
            # timeout=0: the busy timeout applies on the worker thread only (`_patiently`).
            # check_same_thread=False: quick transactions use it from the loop's thread, never
            # while the worker thread does (see `_quick`).
            db = await aiosqlite.connect(path, isolation_level=None, timeout=0, cached_statements=256,
                                         check_same_thread=False)
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
                return await self.run(_prepare, owner)
            except StoreError as exc:
                if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _conn(self) -> tuple[aiosqlite.Connection, sqlite3.Connection]:
        db = self._db
        try:
            if db is None:
                raise ValueError("no active connection")
            return db, db._conn
        except ValueError as exc:
            raise StoreError(f"state database {self.path} is closed") from exc

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        db, conn = self._conn()
        # aiosqlite's own queue to its worker thread: one round trip for the whole function. The
        # call counts as queued until the thread has run it, even if our caller is cancelled
        # meanwhile: until then the loop's thread must not touch the connection (`_quick`).
        call = asyncio.ensure_future(db._execute(_patiently, conn, self._busy_timeout_ms, fn, *args))
        self._queued += 1
        call.add_done_callback(self._thread_done)
        try:
            result: T = await asyncio.shield(call)
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.path}: {exc}") from exc
        except ValueError as exc:
            if "connection" in str(exc).lower():
                raise StoreError(f"state database {self.path} is closed") from exc
            raise
        return result

    def _thread_done(self, call: asyncio.Future[Any]) -> None:
        self._queued -= 1
        if not call.cancelled():
            call.exception()  # retrieved: a caller cancelled meanwhile no longer will

    async def write(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T:
        self._count_write()
        if quick:
            return await self._quick("BEGIN IMMEDIATE", in_transaction, fn, *args)
        return await self.run(in_transaction, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T:
        if quick:  # in autocommit: each statement reads the last commit (see `StoreBase._read`)
            return await self._quick(None, in_read_transaction, fn, *args)
        return await self.run(in_read_transaction, fn, *args)

    async def _quick(self, begin: str | None, patient: Callable[..., T], fn: Callable[..., T], *args: Any) -> T:
        """`fn` in one transaction on the loop's thread if the connection is idle and no other
        process holds the lock it needs; else on the worker thread (see the module docstring)."""
        if not self._queued:
            _, conn = self._conn()
            try:
                done, result = _now_or_never(conn, begin, fn, *args)
            except sqlite3.Error as exc:
                raise StoreError(f"state database {self.path}: {exc}") from exc
            if done:
                return result  # type: ignore[return-value]  # None only when not done
        return await self.run(patient, fn, *args)

    def _count_write(self) -> None:
        self._writes += 1
        if self._writes >= self._checkpoint_every and self._checkpointing is None and self._db is not None:
            self._writes = 0
            self._checkpointing = asyncio.create_task(self._run_checkpoint(), name="pwm-wal-checkpoint")

    async def _run_checkpoint(self) -> None:
        try:
            pages = await self.run(_checkpoint)
        except StoreError as exc:
            log.warning("WAL checkpoint failed: %s", exc)
        else:
            if pages > 0:  # aim the next one at CHECKPOINT_PAGES
                every = self._checkpoint_every * CHECKPOINT_PAGES / pages
                self._checkpoint_every = int(min(4096, max(16, every)))
        finally:
            self._checkpointing = None

    async def owner_alive(self, owner: str) -> bool:
        return owner_is_alive(self.path, owner)

    def forget_owner(self, owner: str) -> None:
        remove_lock_file(self.path, owner)

    async def close(self) -> None:
        checkpointing = self._checkpointing
        if checkpointing is not None:
            await asyncio.gather(checkpointing, return_exceptions=True)
        db, self._db = self._db, None
        try:
            if db is not None:
                await db.close()
        finally:
            self._lock.release()
