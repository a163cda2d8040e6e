"""Leases: an instance renews its claim every poll; one that stops renewing or dies loses its groups."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

import pytest

from server.store import BudgetLimits, LeaseKeeper, Store
from tests.store.helpers import crash_mid_group, new_group, new_tasks

SPAWN = multiprocessing.get_context("spawn")


async def test_a_store_holds_a_lease_it_renews_and_a_group_shows_it(db: str | Path) -> None:
    store = await Store.open(db, lease_s=20.0, poll_s=2.0)
    try:
        group = await store.create_group(new_group(), new_tasks(1))
        lease = await store.group_lease(group.id)
        assert lease is not None and lease.owner == store.owner and lease.lease_s == 20.0
        assert lease.lease_until is not None and 15 < lease.lease_until - time.time() <= 20
        assert await store.group_lease("nope") is None
    finally:
        await store.close()


async def test_an_instance_that_stops_renewing_loses_its_groups_to_the_next_poll_of_another(
    db: str | Path,
) -> None:
    hung = await Store.open(db, lease_s=0.3, poll_s=0.1)
    other = await Store.open(db, lease_s=30.0, poll_s=0.1)
    taken: list[int] = []
    try:
        group = await hung.create_group(new_group("lease-me"), new_tasks(2))
        task = (await hung.list_tasks(group.id))[0]
        await hung.transition_task(task.id, ["pending"], "running")
        attempt = await hung.begin_attempt(task.id, group.id, "m", "p", "speed", 0.02, True, BudgetLimits())
        async def resumed() -> None:
            taken.append(1)

        keeper = LeaseKeeper(other, resumed)
        assert (await keeper.poll_once()).resumed_groups == 0  # its lease still holds
        async with asyncio.timeout(10):
            while True:
                if (await keeper.poll_once()).resumed_groups:
                    break
                await asyncio.sleep(0.05)
        assert taken == [1]
        assert [g.id for g in await other.unfinished_groups()] == [group.id]
        (row,) = await other.list_attempts(task_id=task.id)
        assert (row.id, row.status, row.charged_usd) == (attempt.id, "interrupted", pytest.approx(0.02))
        # The hung instance finds out at its next renewal, and its late settle changes nothing.
        assert not await hung.renew_lease()
        assert not await hung.settle_attempt(attempt.id, status="succeeded", cost=0.5, cost_source="catalog")
    finally:
        await hung.close()
        await other.close()


async def test_a_killed_instances_group_is_taken_over_within_the_lease_plus_one_poll(db: str | Path) -> None:
    lease_s, poll_s = 2.0, 0.2
    survivor = await Store.open(db, lease_s=lease_s, poll_s=poll_s)
    taken = asyncio.Event()

    async def resumed() -> None:
        taken.set()

    keeper = LeaseKeeper(survivor, resumed)
    ready = SPAWN.Event()
    child = SPAWN.Process(target=crash_mid_group, args=(db, ready))
    child.start()
    try:
        assert await asyncio.to_thread(ready.wait, 60), "child never got its group running"
        keeper.start()
        child.kill()
        killed_at = time.monotonic()
        async with asyncio.timeout(30):
            await taken.wait()
        assert time.monotonic() - killed_at <= lease_s + poll_s + 1.0
        (group,) = await survivor.unfinished_groups()
        statuses = sorted(t.status for t in await survivor.list_tasks(group.id))
        assert statuses == ["pending", "queued", "queued", "queued"]  # 0 tasks lost
        attempts = await survivor.list_attempts(group_id=group.id)
        assert [(a.status, a.charged_usd) for a in attempts] == [("interrupted", pytest.approx(0.05))] * 2
    finally:
        child.join(timeout=30)
        await keeper.aclose()
        await survivor.close()
