"""Recovery in one process: dead owners are settled once, live owners are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.store import BudgetLimits, Store
from tests.store.helpers import new_group, new_tasks


async def _start_group(store: Store) -> tuple[str, int]:
    group = await store.create_group(new_group("resume-me"), new_tasks(2))
    task = (await store.list_tasks(group.id))[0]
    await store.transition_task(task.id, ["pending"], "running")
    attempt = await store.begin_attempt(task.id, group.id, "m", "p", "speed", 0.2, True, BudgetLimits(daily=1.0))
    return group.id, attempt.id


async def test_recover_leaves_a_live_store_sharing_the_file_alone(db: str | Path) -> None:
    live = await Store.open(db)
    other = await Store.open(db)
    try:
        group_id, attempt_id = await _start_group(live)
        report = await other.recover()
        assert (report.dead_owners, report.interrupted_attempts, report.requeued_tasks) == (0, 0, 0)
        assert await other.unfinished_groups() == []
        assert [g.id for g in await live.unfinished_groups()] == [group_id]
        assert await live.settle_attempt(attempt_id, status="succeeded", cost=0.1, cost_source="catalog")
    finally:
        await live.close()
        await other.close()


async def test_a_call_settled_by_recovery_is_not_charged_again_by_a_late_settle(db: str | Path) -> None:
    crashed = await Store.open(db)
    group_id, attempt_id = await _start_group(crashed)
    await crashed.close()  # its lock is gone: to everyone else it is dead
    store = await Store.open(db)
    try:
        report = await store.recover()
        assert (report.interrupted_attempts, report.requeued_tasks, report.resumed_groups) == (1, 1, 1)
        assert report.released_usd == pytest.approx(0.2)
        assert not await store.settle_attempt(attempt_id, status="succeeded", cost=0.2, cost_source="catalog")
        status = await store.budget_status(BudgetLimits(daily=1.0))
        # Charged once, at its reservation: the provider served the call and bills it.
        assert (status.periods[0].spent, status.periods[0].reserved) == (pytest.approx(0.2), 0.0)
        task = (await store.list_tasks(group_id))[0]
        assert (task.status, task.cost_usd, task.attempts) == ("queued", pytest.approx(0.2), 1)
        assert [g.id for g in await store.unfinished_groups()] == [group_id]
    finally:
        await store.close()


async def test_a_clean_close_with_nothing_running_leaves_nothing_to_recover(db: str | Path) -> None:
    first = await Store.open(db)
    group = await first.create_group(new_group(), new_tasks(1))
    await first.finish_group(group.id, "succeeded")
    await first.close()
    second = await Store.open(db)
    try:
        assert (await second.recover()).dead_owners == 0
    finally:
        await second.close()
