"""The budget ledger: reservations, limits, settlement exactly once, cost corrections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.errors import BudgetExceeded, StoreError
from server.store import BudgetLimits, BudgetRefused, Store, period_bounds
from tests.store.helpers import new_group, new_tasks, query

DAILY = BudgetLimits(daily=0.50)


def _count_attempts(db: str | Path) -> int:
    return int(query(db, "SELECT count(*) FROM attempts")[0][0])


async def _paid(store: Store, estimate: float, limits: BudgetLimits = DAILY, task_id: str | None = None,
                group_id: str | None = None, model: str = "gpt-x", provider: str = "openai") -> int:
    attempt = await store.begin_attempt(task_id, group_id, model, provider, "balanced", estimate, True, limits)
    return attempt.id


async def test_a_paid_call_past_the_daily_limit_is_refused_and_nothing_is_stored(
    store: Store, db: str | Path
) -> None:
    first = await _paid(store, 0.40)
    await store.settle_attempt(first, status="succeeded", cost=0.40, cost_source="catalog")
    with pytest.raises(BudgetExceeded) as err:
        await _paid(store, 0.20)
    message = str(err.value)
    for figure in ("daily", "$0.5000", "spent $0.4000", "reserved $0.0000", "estimate $0.2000"):
        assert figure in message
    assert isinstance(err.value, BudgetRefused) and err.value.budget == "daily"
    assert _count_attempts(db) == 1


async def test_free_and_local_calls_are_never_blocked_by_money(store: Store) -> None:
    spent = await _paid(store, 0.50)
    await store.settle_attempt(spent, status="succeeded", cost=0.50, cost_source="catalog")
    free = await store.begin_attempt(None, None, "llama3", "ollama", "speed", 0.0, False, DAILY)
    assert free.status == "running"
    with pytest.raises(BudgetExceeded):
        await _paid(store, 0.0)  # an unknown-price paid call is stopped once the cap is reached


async def test_reservations_of_running_calls_count_until_settled(store: Store) -> None:
    held = await _paid(store, 0.30)
    with pytest.raises(BudgetExceeded, match=r"reserved \$0\.3000"):
        await _paid(store, 0.30)
    assert await store.settle_attempt(held, status="succeeded", cost=0.10, cost_source="provider_reported")
    # 0.10 settled + 0.30 fits 0.50 (another provider's model: gpt-x has learned it costs a third)
    await _paid(store, 0.30, model="claude-y", provider="anthropic")
    status = await store.budget_status(DAILY)
    daily = status.periods[0]
    assert (daily.name, daily.spent, daily.reserved) == ("daily", pytest.approx(0.10), pytest.approx(0.30))
    assert daily.state == "warn" and daily.fraction == pytest.approx(0.8)


async def test_settling_twice_is_a_no_op_so_a_call_is_never_charged_twice(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(1))
    (task,) = await store.list_tasks(group.id)
    attempt = await _paid(store, 0.05, task_id=task.id, group_id=group.id)
    settled = dict(status="succeeded", cost=0.04, cost_source="catalog", input_tokens=100, output_tokens=20)
    assert await store.settle_attempt(attempt, **settled)  # type: ignore[arg-type]
    assert not await store.settle_attempt(attempt, **settled)  # type: ignore[arg-type]
    assert not await store.settle_attempt(attempt, status="failed")
    task = await store.get_task(task.id)
    assert task.cost_usd == pytest.approx(0.04) and task.input_tokens == 100 and task.attempts == 1
    assert task.model_used == "gpt-x"
    assert (await store.budget_status(DAILY)).periods[0].spent == pytest.approx(0.04)
    (row,) = await store.list_attempts(task_id=task.id)
    assert (row.status, row.reserved_usd, row.cost_usd, row.charged_usd) == ("succeeded", 0.0, 0.04, 0.04)


async def test_what_a_settled_call_is_charged(store: Store) -> None:
    failed_free = await _paid(store, 0.10)
    failed_billed = await _paid(store, 0.10)
    unknown = await _paid(store, 0.10)
    await store.settle_attempt(failed_free, status="failed", error_class="timeout")
    await store.settle_attempt(failed_billed, status="failed", cost=0.02, cost_source="provider_reported")
    await store.settle_attempt(unknown, status="succeeded", cost=None, cost_source="unknown")
    rows = {a.id: a for a in await store.attempts_since(0)}
    assert rows[failed_free].charged_usd == 0.0 and rows[failed_free].error_class == "timeout"
    assert rows[failed_billed].charged_usd == pytest.approx(0.02)
    # An unknown price is never booked as $0: the reservation stands in until reconciled.
    assert rows[unknown].cost_usd is None and rows[unknown].charged_usd == pytest.approx(0.10)
    assert await store.update_attempt_cost(unknown, 0.03, "provider_reported")
    status = await store.budget_status(DAILY)
    assert status.periods[0].spent == pytest.approx(0.05) and status.periods[0].reserved == 0


async def test_per_task_cap_and_group_budget_are_enforced(store: Store) -> None:
    group = await store.create_group(new_group(budget=0.30), new_tasks(2))
    t1, t2 = await store.list_tasks(group.id)
    limits = BudgetLimits(per_task=0.20, group=0.30)
    a = await _paid(store, 0.15, limits, t1.id, group.id)
    await store.settle_attempt(a, status="failed", cost=0.15, cost_source="provider_reported")
    with pytest.raises(BudgetExceeded, match="per-task"):
        await _paid(store, 0.10, limits, t1.id, group.id)
    await _paid(store, 0.10, limits, t2.id, group.id)
    with pytest.raises(BudgetExceeded, match="group"):
        await _paid(store, 0.10, limits, t2.id, group.id)
    status = await store.budget_status(limits, group.id)
    assert status.periods[-1].name == "group" and status.periods[-1].spent == pytest.approx(0.15)
    assert status.periods[-1].reserved == pytest.approx(0.10) and status.periods[-1].state == "warn"


async def test_stop_and_warn_thresholds_are_fractions_of_the_limit(store: Store) -> None:
    limits = BudgetLimits(daily=1.0, stop_at=0.8, warn_at=0.5)
    a = await _paid(store, 0.6, limits)
    await store.settle_attempt(a, status="succeeded", cost=0.6, cost_source="catalog")
    assert (await store.budget_status(limits)).state == "warn"
    with pytest.raises(BudgetExceeded, match="paused at 80%"):
        await _paid(store, 0.25, limits)
    await _paid(store, 0.2, limits)
    assert (await store.budget_status(limits)).state == "stop"


async def test_periods_follow_the_local_calendar(store: Store) -> None:
    now = period_bounds(1_750_000_000)["monthly"][0] + 20 * 86400  # the 21st of a month
    bounds = period_bounds(now)
    limits = BudgetLimits(daily=1.0, weekly=2.0, monthly=3.0)
    for ts in (bounds["monthly"][0] - 3600, bounds["monthly"][0] + 3600, bounds["weekly"][0] + 60, now):
        a = await store.begin_attempt(None, None, "m", "p", None, 0.5, True, limits, now=ts)
        await store.settle_attempt(a.id, status="succeeded", cost=0.5, cost_source="catalog", now=ts)
    periods = {p.name: p for p in (await store.budget_status(limits, now=now)).periods}
    assert [periods[n].spent for n in ("daily", "weekly", "monthly")] == [0.5, 1.0, 1.5]
    assert periods["daily"].resets_at == bounds["daily"][1]


async def test_when_a_sqlite_file_cannot_be_written_no_attempt_is_started(db_path: Path) -> None:
    store = await Store.open(db_path, busy_timeout_ms=50)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock for too long
        with pytest.raises(StoreError, match="locked"):
            await _paid(store, 0.01)
        blocker.execute("ROLLBACK")
        assert _count_attempts(db_path) == 0
        await _paid(store, 0.01)  # and the store works again afterwards
    finally:
        blocker.close()
        await store.close()


async def test_limits_from_settings_take_the_stricter_per_task_cap() -> None:
    from server.settings import BudgetSettings

    limits = BudgetLimits.from_settings(BudgetSettings(daily=5.0, per_task=0.5, stop_at=0.9), group=2.0, per_task=0.2)
    assert (limits.daily, limits.group, limits.per_task, limits.stop_at) == (5.0, 2.0, 0.2, 0.9)
    assert BudgetLimits.from_settings(BudgetSettings()).per_task is None


async def test_a_running_attempt_cannot_be_recosted_before_it_settles(store: Store) -> None:
    attempt = await _paid(store, 0.01)
    assert not await store.update_attempt_cost(attempt, 0.02, "provider_reported")


async def test_an_attempt_for_an_unknown_task_is_refused_as_not_found(store: Store) -> None:
    from server.errors import NotFoundError

    with pytest.raises(NotFoundError, match="ghost"):
        await store.begin_attempt("ghost", None, "m", "p", None, 0.0, False, BudgetLimits())
