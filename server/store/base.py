"""The connection every store operation runs on, and the two ways to use it.

One connection per Store, run on one worker thread (aiosqlite's for SQLite, our own for
PostgreSQL, whose connection presents the same `sqlite3.Connection` subset: see `postgres.py`).
Each operation is a plain synchronous function of that connection handed to the thread whole, so

- a transaction is one round trip between the event loop and the thread, not one per
  statement (the per-task overhead target is a millisecond; SQLite runs the few `quick` ones
  of every task on the loop's thread instead, see `sqlite_backend.py`), and
- no other coroutine's statement can land in the middle of our transaction, which would
  happen if `BEGIN ... COMMIT` were issued as separate awaits on a shared connection.

Writes use `BEGIN IMMEDIATE`: the write lock is taken before anything is read, so a budget
check and the reservation it allows are one atomic step even across processes (on PostgreSQL
the same statement takes a transaction-scoped advisory lock: one writer at a time across every
machine). Any database failure surfaces as `StoreError`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from server.errors import StoreError
from server.store.records import Begun

__all__ = ["Backend", "StoreBase", "day_key", "in_read_transaction", "in_transaction", "local_midnight", "now_ts"]

T = TypeVar("T")


def now_ts() -> float:
    return time.time()


def day_key(ts: float) -> str:
    """The local calendar date of `ts`: the bucket budgets count a call's cost in."""
    return date.fromtimestamp(ts).isoformat()


def local_midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day).timestamp()


class Backend(Protocol):
    """One database connection and the ways to run a transaction body on it (see the backends)."""

    kind: str  # "sqlite" | "postgresql"
    where: str  # the database, for messages (a path, or a URL without its password)

    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def write(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T: ...

    async def read(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T: ...

    async def owner_alive(self, owner: str) -> bool: ...

    def forget_owner(self, owner: str) -> None: ...

    async def close(self) -> None: ...


class StoreBase:
    path: Path
    owner: str
    _backend: Backend | None
    _begun: dict[int, Begun]  # attempts this process began and has not settled (see `Begun`)

    def _live(self) -> Backend:
        backend = self._backend
        if backend is None:
            raise StoreError(f"state database {self.path} is closed")
        return backend

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the connection's thread, in autocommit mode."""
        return await self._live().run(fn, *args)

    async def _write(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T:
        """Run `fn(conn, *args)` inside one write transaction (one writer at a time).

        `quick`: a transaction of a few rows found by key, whose caller waits on it with little
        else for the event loop to do (the scheduler with one call in flight); the backend may
        then run it without a thread hand-off (SQLite: on the loop's thread, see `sqlite_backend`).
        """
        return await self._live().write(fn, *args, quick=quick)

    async def _read(self, fn: Callable[..., T], *args: Any, quick: bool = False) -> T:
        """Run `fn(conn, *args)` inside one read transaction (a consistent snapshot).

        `quick` as for `_write`, for a read whose rows do not change under it (a task about to
        run and its finished dependencies): the backend may then skip the transaction, each
        statement reading the last commit (SQLite: two statements fewer per task)."""
        return await self._live().read(fn, *args, quick=quick)


def in_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def in_read_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
