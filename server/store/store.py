"""`Store`: the state of groups, tasks and the attempts ledger, opened once per process.

The operations live in the mixins by subject (groups, ledger, reports, recovery, validations),
written once as transaction bodies over a `sqlite3.Connection`-shaped connection; the backend
runs them: SQLite by default (`sqlite_backend.py`), PostgreSQL for a team (`postgres.py`).
`Store.open` takes a path or a URL (`target.py`) and registers this instance as an owner.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path

from server.errors import StoreError
from server.store.base import Backend
from server.store.groups import GroupsMixin
from server.store.leases import DEFAULT_LEASE_S, DEFAULT_POLL_S, LeasesMixin
from server.store.ledger import LedgerMixin
from server.store.recovery import RecoveryMixin
from server.store.reports import ReportsMixin
from server.store.sqlite_backend import SqliteBackend
from server.store.target import DbTarget, parse_db_target
from server.store.threads import ThreadsMixin
from server.store.tokens import TokensMixin
from server.store.validations import ValidationsMixin

__all__ = ["Store"]

log = logging.getLogger(__name__)


def _forget_owner(conn: sqlite3.Connection, owner: str) -> None:
    # Only when nothing of ours is left running: otherwise recovery still needs the row.
    conn.execute(
        "DELETE FROM owners WHERE id = ?1 AND NOT EXISTS"
        " (SELECT 1 FROM attempts WHERE owner = ?1 AND status = 'running')"
        " AND NOT EXISTS (SELECT 1 FROM groups WHERE owner = ?1 AND status = 'running')",
        (owner,),
    )


class Store(GroupsMixin, LedgerMixin, ReportsMixin, RecoveryMixin, ValidationsMixin, LeasesMixin, TokensMixin,
            ThreadsMixin):
    """Use `await Store.open(path_or_url)`; `await store.close()` when done."""

    def __init__(self, target: DbTarget, backend: Backend, owner: str) -> None:
        self.target = target
        self.kind = backend.kind
        # For messages; the SQLite file itself for the SQLite backend.
        self.path = getattr(backend, "path", None) or Path(backend.where)
        self._backend: Backend | None = backend
        self.owner = owner
        self.applied_migrations: list[str] = []
        self._begun = {}

    @classmethod
    async def open(cls, target: str | Path | DbTarget, *, busy_timeout_ms: int = 10_000,
                   lease_s: float = DEFAULT_LEASE_S, poll_s: float = DEFAULT_POLL_S) -> Store:
        """Open (creating if needed) the database, bring its schema up to date, take a lease.

        `target`: a SQLite file path, `sqlite:///path`, or `postgresql://…` (see `target.py`).
        `lease_s`, `poll_s`: this instance's lease and how often it renews it (see `leases.py`).

        Raises:
            StoreError: an unsupported URL, or the database cannot be created, reached, read or written.
        """
        where = target if isinstance(target, DbTarget) else parse_db_target(target)
        owner = uuid.uuid4().hex[:12]
        backend: Backend
        if where.kind == "postgresql":
            from server.store.postgres import PgBackend  # psycopg is loaded only when used

            assert where.url is not None
            backend, applied = await PgBackend.open(where.url, owner, connect_timeout_s=busy_timeout_ms / 1000)
        else:
            assert where.path is not None
            backend, applied = await SqliteBackend.open(where.path, owner, busy_timeout_ms)
        store = cls(where, backend, owner)
        store.applied_migrations = applied
        store.lease_s, store.poll_s = float(lease_s), float(poll_s)
        try:
            await store.renew_lease()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection and release this owner's liveness lock (idempotent).

        Anything still running stays as it is; the next `recover()` anywhere settles it.
        """
        backend = self._backend
        if backend is None:
            return
        try:
            await self._run(_forget_owner, self.owner)
        except StoreError:
            log.warning("could not unregister store owner %s", self.owner)
        finally:
            self._backend = None
            await backend.close()

    async def checkpoint(self) -> None:
        """Fold SQLite's WAL back into the main file (for size measurements and backups)."""
        if self.kind == "sqlite":
            await self._run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
