"""Reservations learn what each model really costs, so the budget bound holds with real charges."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import BudgetExceeded
from server.store import BudgetLimits, Store

ROOMY = BudgetLimits(daily=100.0)


async def _call(store: Store, estimate: float, cost: float | None, *, cap: float | None = None,
                model: str = "gpt-x", provider: str = "openai", paid: bool = True,
                limits: BudgetLimits = ROOMY) -> float:
    """One call reserved from `estimate` and settled at `cost`; what it held while running."""
    attempt = await store.begin_attempt(None, None, model, provider, "speed", estimate, paid, limits, cap_usd=cap)
    await store.settle_attempt(attempt.id, status="succeeded", cost=cost, cost_source="provider_reported")
    return attempt.reserved_usd


async def test_a_model_that_costs_five_times_its_catalogue_price_reserves_five_times_after_one_call(
    store: Store, db: str | Path
) -> None:
    await _call(store, 0.01, 0.05)
    assert (await store.learned_costs("gpt-x", "openai")).ratio == pytest.approx(5.0)
    held = await store.begin_attempt(None, None, "gpt-x", "openai", "speed", 0.02, True, ROOMY, cap_usd=1.0)
    assert held.reserved_usd == pytest.approx(0.10)
    await store.close()
    reopened = await Store.open(db)  # learned figures are persisted in the database
    try:
        assert (await reopened.learned_costs("gpt-x", "openai")).ratio == pytest.approx(5.0)
    finally:
        await reopened.close()


async def test_a_rise_is_learned_at_once_and_a_fall_only_by_a_fifth(store: Store) -> None:
    await _call(store, 0.01, 0.01)
    await _call(store, 0.01, 0.03)
    assert (await store.learned_costs("gpt-x", "openai")).ratio == pytest.approx(3.0)
    await _call(store, 0.01, 0.01)
    learned = await store.learned_costs("gpt-x", "openai")
    assert learned.ratio == pytest.approx(3.0 - 0.2 * 2.0) and learned.ratio_samples == 3


async def test_a_new_model_of_a_provider_known_to_overcharge_starts_from_that_providers_ratio(store: Store) -> None:
    await _call(store, 0.01, 0.04, model="gpt-x")
    fresh = await store.begin_attempt(None, None, "gpt-y", "openai", "speed", 0.01, True, ROOMY)
    other = await store.begin_attempt(None, None, "claude", "anthropic", "speed", 0.01, True, ROOMY)
    assert (fresh.reserved_usd, other.reserved_usd) == (pytest.approx(0.04), pytest.approx(0.01))


async def test_a_small_budget_admits_a_small_call_whose_maximum_output_would_not_fit(store: Store) -> None:
    small = BudgetLimits(daily=0.01)
    # Not yet learned: the cap ($0.05) does not fit, so the realistic estimate is held instead.
    first = await _call(store, 0.001, 0.001, cap=0.05, limits=small)
    assert first == pytest.approx(0.001)
    # Learned: the realistic estimate, not the cap.
    assert await _call(store, 0.001, 0.001, cap=0.05, limits=small) == pytest.approx(0.001)


async def test_a_model_not_yet_learned_holds_its_maximum_output_estimate_where_the_budget_has_room(
    store: Store
) -> None:
    assert await _call(store, 0.01, 0.01, cap=0.08) == pytest.approx(0.08)
    assert await _call(store, 0.01, 0.01, cap=0.08) == pytest.approx(0.01)


async def test_learning_reaches_the_cap_scaled_by_the_ratio_but_never_above(store: Store) -> None:
    await _call(store, 0.01, 0.05, cap=0.02)
    held = await store.begin_attempt(None, None, "gpt-x", "openai", "speed", 0.01, True, ROOMY, cap_usd=0.02)
    assert held.reserved_usd == pytest.approx(0.05)  # min(0.01 x 5, 0.02 x 5)
    held = await store.begin_attempt(None, None, "gpt-x", "openai", "speed", 0.04, True, ROOMY, cap_usd=0.02)
    assert held.reserved_usd == pytest.approx(0.10)  # the scaled cap bounds it


async def test_a_free_model_that_reports_a_cost_counts_against_the_budget_and_is_stopped(store: Store) -> None:
    limits = BudgetLimits(daily=0.10)
    await _call(store, 0.0, 0.06, model="free-x", provider="openrouter", paid=False, limits=limits)
    # It has shown it charges: it now holds its mean cost and meets the budget like a paid model.
    with pytest.raises(BudgetExceeded, match="daily"):
        await store.begin_attempt(None, None, "free-x", "openrouter", "speed", 0.0, False, limits)
    status = await store.budget_status(limits)
    assert status.periods[0].spent == pytest.approx(0.06)
    # A free model that never reported a cost still runs.
    assert (await store.begin_attempt(None, None, "free-y", "ollama", "speed", 0.0, False, limits)).status == "running"


async def test_a_settlement_crossing_the_stop_threshold_refuses_the_next_reservation_at_once(store: Store) -> None:
    limits = BudgetLimits(daily=1.0, stop_at=0.9)
    other = await store.begin_attempt(None, None, "m2", "p2", "speed", 0.05, True, limits)
    assert other.status == "running"
    await _call(store, 0.05, 0.95, limits=limits)  # reserved 0.05, the provider charged 0.95
    with pytest.raises(BudgetExceeded, match="paused at 90%"):
        await store.begin_attempt(None, None, "m3", "p3", "speed", 0.000001, True, limits)


async def test_a_call_cut_by_a_cancel_or_shutdown_is_charged_its_reservation_never_zero(store: Store) -> None:
    ids = []
    for _ in range(3):
        ids.append((await store.begin_attempt(None, None, "m", "p", "speed", 0.02, True, ROOMY)).id)
    await store.settle_attempt(ids[0], status="cancelled", error_class="cancelled")
    await store.settle_attempt(ids[1], status="interrupted", error_class="interrupted")
    await store.settle_attempt(ids[2], status="failed", error_class="server_error", http_status=500)
    rows = {a.id: a.charged_usd for a in await store.attempts_since(0)}
    assert [rows[i] for i in ids] == [pytest.approx(0.02), pytest.approx(0.02), 0.0]


async def test_learning_a_higher_price_raises_the_reservations_of_calls_still_in_flight(store: Store) -> None:
    waiting = await store.begin_attempt(None, None, "gpt-x", "openai", "speed", 0.01, True, ROOMY)
    await _call(store, 0.01, 0.05)  # another call of the same model shows it costs 5x
    status = await store.budget_status(ROOMY)
    assert status.periods[0].reserved == pytest.approx(0.05)  # the waiting call now holds 5x
    assert await store.settle_attempt(waiting.id, status="succeeded", cost=0.05, cost_source="provider_reported")


async def test_a_free_models_repeated_zero_charges_leave_its_learned_figures_and_the_ledger_as_they_were(
    store: Store, db: str | Path
) -> None:
    from tests.store.helpers import query

    for _ in range(3):
        await _call(store, 0.0, 0.0, model="llama", provider="groq", paid=False)
    learned = await store.learned_costs("llama", "groq")
    assert (learned.mean_cost, learned.cost_samples, learned.ratio_samples) == (0.0, 1, 0)
    assert query(db, "SELECT count(*) FROM ledger_days") == [(0,)]
    # The day it first charges, it is learned and booked as before.
    await _call(store, 0.0, 0.02, model="llama", provider="groq", paid=False)
    learned = await store.learned_costs("llama", "groq")
    assert (learned.mean_cost, learned.cost_samples) == (pytest.approx(0.02), 2)
    assert query(db, "SELECT calls, settled_usd FROM ledger_days") == [(1, pytest.approx(0.02))]
