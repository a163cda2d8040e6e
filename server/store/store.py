"""`Store`: the SQLite state of groups, tasks and the attempts ledger, opened once per process.

The operations live in the mixins by subject (groups, ledger, reports, recovery); this module
opens the file: parent directories, WAL, `synchronous=NORMAL` (a commit survives a process
crash; only an OS crash can lose the last transactions), busy timeout, foreign keys, migrations,
then registers this instance as an owner (which also proves the file is writable).

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
import uuid
from pathlib import Path

import aiosqlite

from server.errors import StoreError
from server.store.base import now_ts
from server.store.groups import GroupsMixin
from server.store.ledger import LedgerMixin
from server.store.liveness import OwnerLock
from server.store.migrations import apply_migrations
from server.store.recovery import RecoveryMixin
from server.store.reports import ReportsMixin
from server.store.threads import ThreadsMixin
from server.store.validations import ValidationsMixin

__all__ = ["Store"]

log = logging.getLogger(__name__)


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


async def _prepare_with_retries(store: Store, busy_timeout_ms: int, owner: str) -> list[str]:
    # Two processes creating the same new file race on the switch to WAL and on the first
    # migration; SQLite then answers SQLITE_BUSY at once (it skips the busy handler where
    # waiting could deadlock). `_prepare` is idempotent, so take turns and try again.
    deadline = asyncio.get_running_loop().time() + busy_timeout_ms / 1000
    delay = 0.01
    while True:
        try:
            return await store._run(_prepare, busy_timeout_ms, owner)
        except StoreError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


def _claim(path: Path, owner: str) -> tuple[Path, OwnerLock]:
    # Resolved, so every process finds the same owners' lock directory even through a symlink.
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, OwnerLock(path, owner)


def _forget_owner(conn: sqlite3.Connection, owner: str) -> None:
    # Only when nothing of ours is left running: otherwise recovery still needs the row.
    conn.execute(
        "DELETE FROM owners WHERE id = ?1 AND NOT EXISTS"
        " (SELECT 1 FROM attempts WHERE owner = ?1 AND status = 'running')"
        " AND NOT EXISTS (SELECT 1 FROM groups WHERE owner = ?1 AND status = 'running')",
        (owner,),
    )


class Store(GroupsMixin, LedgerMixin, ReportsMixin, RecoveryMixin, ValidationsMixin, ThreadsMixin):
    """Use `await Store.open(path)`; `await store.close()` when done."""

    def __init__(self, path: Path, db: aiosqlite.Connection, owner: str, lock: OwnerLock) -> None:
        self.path = path
        self._db = db
        self.owner = owner
        self._lock = lock
        self.applied_migrations: list[str] = []

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int = 10_000) -> Store:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises:
            StoreError: the directory or file cannot be created, read or written.
        """
        owner = uuid.uuid4().hex[:12]
        try:
            path, lock = await asyncio.to_thread(_claim, path, owner)
        except OSError as exc:
            raise StoreError(f"state database {path}: cannot create its directory or lock file: {exc}") from exc
        db: aiosqlite.Connection | None = None
        try:
            db = await aiosqlite.connect(
                path, isolation_level=None, timeout=busy_timeout_ms / 1000, cached_statements=256
            )
            store = cls(path, db, owner, lock)
            store.applied_migrations = await _prepare_with_retries(store, busy_timeout_ms, owner)
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
        return store

    async def close(self) -> None:
        """Close the connection and release this owner's lock (idempotent).

        Anything still running stays as it is; the next `recover()` anywhere settles it.
        """
        if self._db is None:
            return
        db = self._db
        try:
            await self._run(_forget_owner, self.owner)
        except StoreError:
            log.warning("could not unregister store owner %s", self.owner)
        finally:
            self._db = None
            await db.close()
            self._lock.release()

    async def checkpoint(self) -> None:
        """Fold the WAL back into the main file (for size measurements and backups)."""
        await self._run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
