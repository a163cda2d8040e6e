"""Escalation by checks: expected cost of try-check-escalate, skipping, and the plan it gives."""

from __future__ import annotations

import pytest

from server.analysis import TaskHints, analyze
from server.catalog import Catalog
from server.routing import AgentRef, Router, RouteRequest
from server.routing.escalation import (
    MIN_PASS_RATE,
    VariantOption,
    expected_chain,
    learned_raise,
    pass_rate,
    plan_by_checks,
    prior_pass_rate,
)


def test_expected_chain_cost_pays_each_next_try_only_when_the_previous_failed() -> None:
    options = [VariantOption("speed", 1.0, 10, 0.6), VariantOption("quality", 10.0, 30, 0.8)]
    cost, time_s, passes = expected_chain(options)
    assert cost == pytest.approx(1.0 + 0.4 * 10.0)
    assert time_s == pytest.approx(10 + 0.4 * 30)
    assert passes == pytest.approx(1 - 0.4 * 0.2)


def test_a_cheap_variant_that_often_passes_is_tried_first() -> None:
    decision = plan_by_checks([VariantOption("speed", 0.01, 5, 0.6), VariantOption("balanced", 0.05, 10, 0.7),
                               VariantOption("quality", 0.30, 20, 0.8)])
    assert decision.start == "speed"
    costs = dict(decision.by_start)
    assert costs["speed"] < costs["balanced"] < costs["quality"] == pytest.approx(0.30)
    assert "try-check-escalate from speed" in decision.rationale
    assert "expected cost from speed" in decision.rationale


def test_a_cheap_variant_that_rarely_passes_is_skipped() -> None:
    decision = plan_by_checks([VariantOption("speed", 0.01, 5, MIN_PASS_RATE / 2), VariantOption("balanced", 0.05, 10, 0.7),
                               VariantOption("quality", 0.30, 20, 0.8)])
    assert decision.skipped == ("speed",)
    assert decision.start == "balanced"
    assert "skipped speed" in decision.rationale


def test_when_the_cheap_try_costs_nearly_as_much_starting_higher_wins() -> None:
    decision = plan_by_checks([VariantOption("speed", 0.28, 5, 0.5), VariantOption("quality", 0.30, 20, 0.9)])
    assert decision.start == "quality"


def test_pass_rates_fall_with_complexity_and_follow_evidence() -> None:
    assert prior_pass_rate("speed", 2) > prior_pass_rate("speed", 8)
    assert prior_pass_rate("quality", 8) > prior_pass_rate("speed", 8)
    prior = prior_pass_rate("speed", 4)
    assert pass_rate(prior, 0, 6) < prior < pass_rate(prior, 6, 0)


def test_learned_raise_needs_evidence_and_a_poor_record() -> None:
    assert learned_raise("speed", {"speed": (0.2, 1.0)}) is None  # too little evidence
    assert learned_raise("speed", {"speed": (0.7, 9.0)}) is None  # passes often enough
    raised = learned_raise("speed", {"speed": (0.2, 6.0)})
    assert raised is not None and raised[0] == "balanced"
    # A higher variant that fails too is passed over.
    raised = learned_raise("speed", {"speed": (0.2, 6.0), "balanced": (0.1, 6.0)})
    assert raised is not None and raised[0] == "quality"


def test_a_checked_task_plans_try_check_escalate_and_says_the_arithmetic(fixture_catalog: Catalog) -> None:
    router = Router(fixture_catalog)
    hints = TaskHints()
    analysis = analyze("Refactor the report module and add unit tests for the totals", hints)
    plain = router.route(RouteRequest(analysis, strategy="quality_first", hints=hints))
    checked = router.route(RouteRequest(analysis, strategy="quality_first", hints=hints, checked=True))
    assert checked.checked and checked.expected_check_cost is not None
    assert "try-check-escalate from" in checked.rationale
    assert "expected cost from" in checked.rationale
    assert not plain.checked and "try-check-escalate" not in plain.rationale
    # The plan escalates upwards from where it starts.
    assert all(v != checked.variant for v, _models in checked.escalation)


def test_a_checked_task_never_starts_below_the_high_stakes_floor(fixture_catalog: Catalog) -> None:
    router = Router(fixture_catalog)
    hints = TaskHints(urgent=True)
    analysis = analyze("Store password hashes with argon2 and rotate the JWT signing keys", hints)
    plan = router.route(RouteRequest(analysis, strategy="speed_first", hints=hints, checked=True))
    assert plan.variant in ("balanced", "quality")


@pytest.mark.parametrize("strategy", ["speed_first", "cost_optimized", "balanced", "quality_first"])
def test_high_stakes_risks_keep_their_floor_under_every_strategy(fixture_catalog: Catalog, strategy: str) -> None:
    router = Router(fixture_catalog)
    hints = TaskHints(urgent=True, estimated_effort="simple")
    analysis = analyze("JWT auth + password hashing", hints)
    plan = router.route(RouteRequest(analysis, strategy=strategy, hints=hints))
    assert "credentials" in analysis.risks
    assert plan.variant != "speed"
    assert "no high-stakes risk" not in plan.rationale


def test_a_pinned_variant_goes_below_the_floor(fixture_catalog: Catalog) -> None:
    router = Router(fixture_catalog)
    analysis = analyze("JWT auth + password hashing")
    plan = router.route(RouteRequest(analysis, agent=AgentRef("aria_coder", "speed"), strategy="speed_first"))
    assert plan.variant == "speed"


def test_a_risk_without_a_floor_is_named_in_the_reason(fixture_catalog: Catalog) -> None:
    router = Router(fixture_catalog)
    hints = TaskHints(urgent=True)
    analysis = analyze("Create user authentication and session management", hints)
    plan = router.route(RouteRequest(analysis, strategy="speed_first", hints=hints))
    assert "auth" in analysis.risks
    if plan.variant == "speed":
        assert "risk auth carries no variant floor" in plan.rationale
