"""Outcomes that finish while another of their group's is being written are written together
next, in one transaction, each planned on the graph the ones before it leave."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.scheduler.fakes import Sleep
from tests.scheduler.harness import Harness, harness, tasks
from tests.store.helpers import query

ROOTS = [f"r{i}" for i in range(6)]


@asynccontextmanager
async def writer_held(h: Harness) -> AsyncIterator[sqlite3.Connection]:
    """Another connection holds the database's write lock until every call has finished (no
    outcome stored meanwhile), then commits what it did inside."""
    db = h.store.path
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        async with asyncio.timeout(10):
            while True:  # each finished call goes straight on to wait for the writer
                if not h.backend.in_flight:
                    break
                await asyncio.sleep(0.01)
        assert query(db, "SELECT count(*) FROM tasks WHERE status = 'succeeded'") == [(0,)]
        other.execute("COMMIT")
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def test_outcomes_finishing_during_a_write_are_committed_together_and_queue_their_join(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, max_concurrent=8) as h:
        h.backend.defaults["loopa/fast"] = Sleep(0.3)
        group = tasks(*({"key": k} for k in ROOTS), {"key": "join", "depends_on": ROOTS}, max_concurrent=8)
        result = await h.engine.submit(group)
        assert result.group_id is not None
        await h.backend.wait_for_calls(len(ROOTS))
        async with writer_held(h):
            pass
        db = h.store.path
        await h.finish(result.group_id)
        assert await h.statuses(result.group_id) == {**dict.fromkeys(ROOTS, "succeeded"), "join": "succeeded"}
        # The first outcome was written alone (it held the writer); the other five in one transaction.
        stamps = query(db, "SELECT finished_at FROM tasks WHERE key != 'join' ORDER BY finished_at")
        assert len({s for (s,) in stamps}) == 2
        assert [s for (s,) in stamps].count(stamps[-1][0]) == len(ROOTS) - 1
        # The join was queued by that same transaction, after every root.
        assert query(db, "SELECT queued_at FROM tasks WHERE key = 'join'") == [(stamps[-1][0],)]
        (group_row,) = query(db, "SELECT status FROM groups")
        assert group_row == ("succeeded",)


async def test_a_batch_that_fails_to_write_leaves_no_task_running_and_the_others_are_written_alone(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, max_concurrent=8) as h:
        h.backend.defaults["loopa/fast"] = Sleep(0.3)
        group = tasks(*({"key": k} for k in ROOTS), max_concurrent=8)
        result = await h.engine.submit(group)
        assert result.group_id is not None
        await h.backend.wait_for_calls(len(ROOTS))
        async with writer_held(h) as other:
            # The database itself refuses the last root's success: any transaction carrying it fails.
            other.execute(
                "CREATE TRIGGER refuse_r5 BEFORE UPDATE OF status ON tasks "
                "WHEN NEW.key = 'r5' AND NEW.status = 'succeeded' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        db = h.store.path
        await h.finish(result.group_id)  # before: the batch's other tasks stayed running and this hung
        statuses = await h.statuses(result.group_id)
        assert statuses["r5"] == "failed"
        assert all(status in ("succeeded", "failed") for status in statuses.values())
        # Only the writer of the failed batch pays for it besides r5; the rest are written alone.
        assert sum(status == "succeeded" for status in statuses.values()) >= len(ROOTS) - 2
        assert query(db, "SELECT status FROM groups") == [("failed",)]
