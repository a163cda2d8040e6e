"""SQLite runs a `quick` transaction on the event loop's thread, but never waits there: another
process's write lock sends it to the worker thread, which waits it out while the loop runs on."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from server.store import BudgetLimits, Store
from server.store.records import TaskRecord
from tests.store.helpers import new_group, new_tasks, query


@asynccontextmanager
async def one_task_and_another_writer(db: Path) -> AsyncIterator[tuple[Store, TaskRecord, sqlite3.Connection]]:
    """A store holding one pending task, and a second connection to its file (another process's)."""
    store = await Store.open(db, busy_timeout_ms=30_000)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        group = await store.create_group(new_group("g"), new_tasks(1))
        (task,) = await store.list_tasks(group.id)
        yield store, task, other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        await store.close()


async def test_a_quick_write_waits_out_another_process_lock_on_the_worker_thread_not_the_loop(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    async with one_task_and_another_writer(db) as (store, task, other):
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
        begin = asyncio.create_task(store.begin_task_attempt(
            task.id, task.group_id, "m1", "p", "speed", 0.0, False, BudgetLimits(), start_task=True, quick=True))
        ticks = 0
        async with asyncio.timeout(10):
            while ticks < 20:  # the loop keeps running while the write waits for the lock
                await asyncio.sleep(0.005)
                ticks += 1
                assert not begin.done(), "the quick write did not wait for the lock"
        other.execute("COMMIT")
        async with asyncio.timeout(10):
            attempt, moved = await begin
        assert moved
        assert query(db, "SELECT id, status FROM attempts") == [(attempt.id, "running")]
        assert query(db, "SELECT status, attempts FROM tasks") == [("running", 1)]
        # The connection is the loop's again: the next quick one needs no thread and sees the row.
        view, _ = await store.dispatch_view(task.id, 100, quick=True)
        assert view.status == "running"


async def test_many_quick_writes_queue_behind_the_wal_checkpoint_and_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await Store.open(db)
    try:
        group = await store.create_group(new_group("g"), new_tasks(300))
        tasks = await store.list_tasks(group.id)
        for task in tasks:  # more writes than one checkpoint interval, yielding as the engine does
            await store.begin_task_attempt(task.id, group.id, "m1", "p", "speed", 0.0, False, BudgetLimits(),
                                           start_task=True, quick=True)
            await asyncio.sleep(0)
    finally:
        await store.close()
    assert query(db, "SELECT count(*), count(DISTINCT task_id) FROM attempts") == [(300, 300)]
    assert query(db, "SELECT status, count(*) FROM tasks GROUP BY status") == [("running", 300)]


async def test_a_quick_read_waits_for_a_cancelled_callers_write_still_running_on_the_thread(tmp_path: Path) -> None:
    async with one_task_and_another_writer(tmp_path / "state.db") as (store, task, other):
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(store.transition_task(task.id, ("pending",), "queued"))
        await asyncio.sleep(0.05)  # the write is on the worker thread, waiting for the lock
        write.cancel()  # its caller goes; the thread still runs it
        read = asyncio.create_task(store.dispatch_view(task.id, 100, quick=True))
        ticks = 0
        async with asyncio.timeout(10):
            while ticks < 10:  # the read queues behind the write: the loop is not held
                await asyncio.sleep(0.005)
                ticks += 1
                assert not read.done()
        other.execute("COMMIT")
        async with asyncio.timeout(10):
            view, _ = await read
        assert view.status == "queued"  # the cancelled caller's write ran first, then the read
        assert write.cancelled()
