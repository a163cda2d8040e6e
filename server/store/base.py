"""The connection every store operation runs on, and the two ways to use it.

One aiosqlite connection per Store: aiosqlite runs it on one worker thread. Each operation is
a plain synchronous function of a `sqlite3.Connection` handed to that thread whole, so

- a transaction is one round trip between the event loop and the thread, not one per
  statement (the per-task overhead target is a millisecond), and
- no other coroutine's statement can land in the middle of our transaction, which would
  happen if `BEGIN ... COMMIT` were issued as separate awaits on a shared connection.

Writes use `BEGIN IMMEDIATE`: the write lock is taken before anything is read, so a budget
check and the reservation it allows are one atomic step even across processes. Any SQLite
failure surfaces as `StoreError`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from server.errors import StoreError

__all__ = ["StoreBase", "day_key", "local_midnight", "now_ts"]

T = TypeVar("T")


def now_ts() -> float:
    return time.time()


def day_key(ts: float) -> str:
    """The local calendar date of `ts`: the bucket budgets count a call's cost in."""
    return date.fromtimestamp(ts).isoformat()


def local_midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day).timestamp()


class StoreBase:
    path: Path
    owner: str
    _db: aiosqlite.Connection | None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the connection's thread, in autocommit mode."""
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

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` inside one `BEGIN IMMEDIATE` transaction."""
        return await self._run(_in_transaction, fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` inside one read transaction (a consistent snapshot)."""
        return await self._run(_in_read_transaction, fn, *args)


def _in_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _in_read_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn, *args)
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
