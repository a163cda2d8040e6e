"""Several server processes sharing one database file: budgets hold, SIGKILL loses nothing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from server.store import Store
from tests.store.helpers import crash_mid_group, query, reserve_many

SPAWN = multiprocessing.get_context("spawn")


async def test_four_processes_reserving_at_once_never_overspend_the_daily_budget(db: str | Path) -> None:
    estimate, daily = 0.01, 0.50
    await (await Store.open(db)).close()  # create the schema once up front
    procs = [SPAWN.Process(target=reserve_many, args=(db, 25, estimate, daily)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    ((calls, settled, reserved, running),) = query(
        db, "SELECT count(*), sum(charged_usd), sum(reserved_usd),"
        " sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END) FROM attempts")
    ((ledger,),) = query(db, "SELECT sum(settled_usd) FROM ledger_days")
    assert settled + reserved <= daily + estimate + 1e-9
    # Exact reservations: every refusal happened only once the budget was truly full.
    assert calls == 50 and running == 0 and reserved == 0
    assert ledger == settled


async def test_sigkill_mid_group_then_recover_settles_once_and_requeues(db: str | Path) -> None:
    ready = SPAWN.Event()
    child = SPAWN.Process(target=crash_mid_group, args=(db, ready))
    child.start()
    try:
        assert ready.wait(timeout=60), "child never got its group running"
    finally:
        child.kill()  # SIGKILL on POSIX
        child.join(timeout=30)
    store = await Store.open(db)
    try:
        report = await store.recover()
        assert (report.dead_owners, report.interrupted_attempts, report.requeued_tasks, report.resumed_groups) == (
            1, 2, 3, 1,
        )
        assert report.released_usd == pytest.approx(0.10)
        (group,) = await store.unfinished_groups()
        assert group.name == "crashy" and group.owner == store.owner
        statuses = [t.status for t in await store.list_tasks(group.id)]
        assert statuses == ["queued", "queued", "queued", "pending"]
        attempts = await store.list_attempts(group_id=group.id)
        assert [(a.status, a.reserved_usd, a.charged_usd, a.cost_source) for a in attempts] == [
            ("interrupted", 0.0, 0.05, "reservation")
        ] * 2
        again = await store.recover()
        assert (again.interrupted_attempts, again.requeued_tasks, again.resumed_groups) == (0, 0, 0)
    finally:
        await store.close()
