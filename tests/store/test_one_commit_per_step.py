"""A task's first attempt moves it to running, and its outcome settles the call that decided it,
each in one transaction: nothing in between for a crash to leave half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import BudgetExceeded, InputError
from server.store import (
    AttemptRecord,
    AttemptSettlement,
    BudgetLimits,
    GroupRecord,
    Store,
    TaskMove,
    TaskRecord,
)
from tests.store.helpers import new_group, new_tasks, query

FREE = BudgetLimits()
# Both ways a backend may run a transaction: on its thread, or (SQLite) on the loop's when quick.
QUICK = pytest.mark.parametrize("quick", [False, True], ids=["threaded", "quick"])


async def _group_of(store: Store, tasks: int) -> tuple[GroupRecord, list[TaskRecord]]:
    """A new group of `tasks` pending tasks, and its tasks in order."""
    group = await store.create_group(new_group("g"), new_tasks(tasks))
    return group, await store.list_tasks(group.id)


async def _queued_task(store: Store) -> tuple[str, str]:
    group, (task,) = await _group_of(store, 1)
    assert await store.transition_task(task.id, ("pending",), "queued")
    return group.id, task.id


async def _running(store: Store, group_id: str, task_id: str, quick: bool) -> AttemptRecord:
    """The pending task queued and started by its first (paid) call."""
    assert await store.transition_task(task_id, ("pending",), "queued")
    attempt, _ = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.01, True, FREE,
                                                start_task=True, quick=quick)
    return attempt


@QUICK
async def test_the_first_attempt_moves_a_queued_task_to_running_in_its_own_transaction(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    attempt, moved = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.0, False, FREE,
                                                    start_task=True, quick=quick)
    assert moved
    assert query(db, "SELECT status, attempts, model_used, started_at IS NOT NULL FROM tasks") == [
        ("running", 1, "m1", 1)]
    again, moved_again = await store.begin_task_attempt(task_id, group_id, "m2", "p", "speed", 0.0, False, FREE,
                                                        start_task=True, quick=quick)
    assert not moved_again and again.id != attempt.id
    assert query(db, "SELECT status, attempts FROM tasks") == [("running", 2)]


@QUICK
async def test_a_finished_task_is_not_moved_back_to_running_by_a_follow_up_call(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    assert await store.transition_task(task_id, ("queued",), "succeeded", result="done")
    _, moved = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.0, False, FREE,
                                              start_task=True, quick=quick)
    assert not moved
    assert query(db, "SELECT status FROM tasks") == [("succeeded",)]


@QUICK
async def test_a_first_attempt_refused_by_the_budget_leaves_the_task_queued(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    with pytest.raises(BudgetExceeded):
        await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 1.0, True, BudgetLimits(daily=0.5),
                                       start_task=True, quick=quick)
    assert query(db, "SELECT status, attempts FROM tasks") == [("queued", 0)]
    assert query(db, "SELECT count(*) FROM attempts") == [(0,)]


@QUICK
async def test_an_outcome_written_with_its_settlement_charges_the_call_once(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    attempt, _ = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.01, True, FREE,
                                                start_task=True, quick=quick)
    settle = AttemptSettlement(attempt.id, "succeeded", input_tokens=10, output_tokens=5, cost=0.002,
                               cost_source="catalog")
    applied = await store.move_tasks([TaskMove(task_id, ("queued", "running"), "succeeded", {"result": "ok"})],
                                     (group_id, "succeeded"), settle=settle, quick=quick)
    assert applied == [True]
    assert query(db, "SELECT status, cost_usd, input_tokens, output_tokens FROM tasks") == [
        ("succeeded", 0.002, 10, 5)]
    assert query(db, "SELECT status, charged_usd, reserved_usd FROM attempts") == [("succeeded", 0.002, 0.0)]
    assert query(db, "SELECT status FROM groups") == [("succeeded",)]
    # The runner's fallback (or a crash recovery) finds it settled: never charged twice.
    assert not await store.settle_attempt(attempt.id, status="succeeded", cost=0.002)
    assert query(db, "SELECT settled_usd, calls FROM ledger_days") == [(0.002, 1)]


@QUICK
async def test_a_settlement_is_written_even_when_the_task_was_moved_by_someone_else(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    attempt, _ = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.0, False, FREE,
                                                start_task=True, quick=quick)
    assert await store.transition_task(task_id, ("running",), "cancelled")
    applied = await store.move_tasks([TaskMove(task_id, ("queued", "running"), "succeeded", {"result": "ok"})],
                                     settle=AttemptSettlement(attempt.id, "succeeded", cost=0.0), quick=quick)
    assert applied == [False]
    assert query(db, "SELECT status FROM tasks") == [("cancelled",)]
    assert query(db, "SELECT status FROM attempts") == [("succeeded",)]


@QUICK
async def test_a_settlement_with_a_status_an_attempt_cannot_end_in_is_refused_and_nothing_written(
    store: Store, db: str | Path, quick: bool
) -> None:
    group_id, task_id = await _queued_task(store)
    attempt, _ = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", 0.0, False, FREE,
                                                start_task=True, quick=quick)
    with pytest.raises(InputError) as err:
        await store.move_tasks([TaskMove(task_id, ("running",), "succeeded")],
                               settle=AttemptSettlement(attempt.id, "running"), quick=quick)
    assert err.value.field == "status"
    assert query(db, "SELECT status FROM tasks") == [("running",)]
    assert query(db, "SELECT status FROM attempts") == [("running",)]


@QUICK
async def test_outcomes_written_together_each_see_the_ones_before_and_settle_their_calls(
    store: Store, db: str | Path, quick: bool
) -> None:
    group, (a, b, c) = await _group_of(store, 3)
    attempts = [await _running(store, group.id, task.id, quick) for task in (a, b)]
    applied = await store.move_task_batches([
        ([TaskMove(a.id, ("running",), "succeeded", {"result": "a"})],
         AttemptSettlement(attempts[0].id, "succeeded", cost=0.002, cost_source="catalog")),
        # c is queued by b's outcome; a later batch sees it queued.
        ([TaskMove(b.id, ("running",), "succeeded", {"result": "b"}), TaskMove(c.id, ("pending",), "queued")],
         AttemptSettlement(attempts[1].id, "succeeded", cost=0.003, cost_source="catalog")),
        ([TaskMove(c.id, ("queued",), "skipped", {"error": "x"})], None),
    ], (group.id, "succeeded"), quick=quick)
    assert applied == [[True], [True, True], [True]]
    assert query(db, "SELECT key, status FROM tasks ORDER BY key") == [
        ("t1", "succeeded"), ("t2", "succeeded"), ("t3", "skipped")]
    assert query(db, "SELECT status, charged_usd FROM attempts ORDER BY id") == [
        ("succeeded", 0.002), ("succeeded", 0.003)]
    assert query(db, "SELECT status FROM groups") == [("succeeded",)]


@QUICK
async def test_outcomes_written_together_write_nothing_when_one_task_was_moved_by_someone_else(
    store: Store, db: str | Path, quick: bool
) -> None:
    group, (a, b) = await _group_of(store, 2)
    attempt = await _running(store, group.id, a.id, quick)
    applied = await store.move_task_batches([
        ([TaskMove(a.id, ("running",), "succeeded", {"result": "a"})],
         AttemptSettlement(attempt.id, "succeeded", cost=0.002, cost_source="catalog")),
        ([TaskMove(b.id, ("running",), "succeeded", {"result": "b"})], None),  # b is still pending
    ], (group.id, "succeeded"), quick=quick)
    assert applied is None
    assert query(db, "SELECT status FROM tasks ORDER BY key") == [("running",), ("pending",)]
    assert query(db, "SELECT status, charged_usd FROM attempts") == [("running", 0.0)]
    assert query(db, "SELECT status FROM groups") == [("running",)]


@QUICK
async def test_a_settlement_charges_its_task_once_whether_or_not_the_outcome_applies(
    store: Store, db: str | Path, quick: bool
) -> None:
    group, (a, b) = await _group_of(store, 2)
    first, second = [await _running(store, group.id, task.id, quick) for task in (a, b)]
    assert await store.transition_task(b.id, ("running",), "cancelled")
    for task, attempt in ((a, first), (b, second)):  # a's outcome applies, b's does not
        await store.move_tasks([TaskMove(task.id, ("running",), "succeeded", {"result": "ok"})],
                               settle=AttemptSettlement(attempt.id, "succeeded", input_tokens=7, output_tokens=3,
                                                        cost=0.004, cost_source="catalog"), quick=quick)
    assert query(db, "SELECT key, status, cost_usd, input_tokens, output_tokens FROM tasks ORDER BY key") == [
        ("t1", "succeeded", 0.004, 7, 3), ("t2", "cancelled", 0.004, 7, 3)]
    # The charge of a call that settles without moving its task (another task's move) goes to its own task.
    third = await store.begin_attempt(a.id, group.id, "m1", "p", "speed", 0.01, True, FREE)
    assert await store.move_tasks([TaskMove(b.id, ("cancelled",), "failed")],
                                  settle=AttemptSettlement(third.id, "failed", cost=0.001), quick=quick) == [True]
    assert query(db, "SELECT key, status, cost_usd FROM tasks ORDER BY key") == [
        ("t1", "succeeded", 0.005), ("t2", "failed", 0.004)]


@pytest.mark.parametrize(("status", "cost", "estimate"), [
    ("succeeded", 0.0, 0.0), ("failed", 0.003, 0.01), ("failed", None, 0.01), ("succeeded", 0.004, 0.01),
    ("succeeded", None, 0.01),
], ids=["free", "failed-charged", "failed-uncharged", "paid", "unknown-cost"])
async def test_an_outcome_settled_by_the_process_that_began_its_call_is_stored_as_after_a_restart(
    tmp_path: Path, status: str, cost: float | None, estimate: float
) -> None:
    """The process that began a call settles it without reading its row back where it can; a
    store that did not begin it (reopened) reads it back. Both leave the same rows."""
    rows = []
    for reopen in (False, True):
        path = tmp_path / f"{reopen}.db"
        store = await Store.open(path)
        try:
            earlier = await store.begin_attempt(None, None, "m1", "p", "speed", estimate, False, FREE)
            await store.settle_attempt(earlier.id, status="succeeded", cost=0.0, cost_source="catalog")
            group_id, task_id = await _queued_task(store)
            attempt, _ = await store.begin_task_attempt(task_id, group_id, "m1", "p", "speed", estimate, False, FREE,
                                                        start_task=True)
            if reopen:
                await store.close()
                store = await Store.open(path)
            settle = AttemptSettlement(attempt.id, status, input_tokens=10, output_tokens=5, cost=cost,
                                       cost_source="catalog" if cost is not None else "unknown")
            to = "succeeded" if status == "succeeded" else "failed"
            assert await store.move_tasks([TaskMove(task_id, ("running",), to, {"result": "ok"})],
                                          settle=settle) == [True]
            assert not await store.settle_attempt(attempt.id, status="failed")  # never twice
        finally:
            await store.close()
        rows.append((
            query(path, "SELECT status, round(cost_usd, 6), input_tokens, output_tokens, result FROM tasks"),
            query(path, "SELECT status, reserved_usd, round(charged_usd, 6), cost_source FROM attempts ORDER BY id"),
            query(path, "SELECT calls, round(settled_usd, 6) FROM ledger_days"),
            query(path, "SELECT ratio, ratio_samples, round(mean_cost, 6), cost_samples FROM model_costs"),
        ))
    assert rows[0] == rows[1]
    (task,), attempt_row = rows[0][0], rows[0][1][-1]
    assert task == (status, attempt_row[2], 10, 5, "ok") and attempt_row[:2] == (status, 0)
    if cost is not None:
        assert attempt_row[2] == cost
