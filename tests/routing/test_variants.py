"""The strategies' variant rules (seed 000), checked with the shipped and the fixture thresholds."""

from __future__ import annotations

import pytest

from server.analysis import TaskHints, analyze
from server.catalog import Catalog
from server.routing import choose_variant

CATALOGS = ["shipped_catalog", "fixture_catalog"]


def pick(catalog: Catalog, strategy: str, description: str, agent: str = "aria_coder_backend", **hints: object) -> str:
    spec = catalog.strategy(strategy)
    assert spec is not None
    task_hints = TaskHints(**hints)  # type: ignore[arg-type]
    variant, _ = choose_variant(spec, analyze(description, task_hints), task_hints, agent)
    return variant


@pytest.fixture(params=CATALOGS)
def catalog(request: pytest.FixtureRequest) -> Catalog:
    return request.getfixturevalue(request.param)


def test_speed_first_sends_urgent_simple_work_to_speed(catalog: Catalog) -> None:
    for complexity in (1, 2, 3):
        assert pick(catalog, "speed_first", "Add a CSV export", urgent=True, complexity=complexity) == "speed"
        assert pick(catalog, "speed_first", "Add a CSV export", time_sensitive=True, complexity=complexity) == "speed"


def test_speed_first_sends_complexity_above_seven_to_quality(catalog: Catalog) -> None:
    for complexity in (8, 9, 10):
        assert pick(catalog, "speed_first", "Add a CSV export", urgent=True, complexity=complexity) == "quality"


def test_speed_first_keeps_high_stakes_middle_work_off_speed(catalog: Catalog) -> None:
    assert pick(catalog, "speed_first", "Implement payment integration with Stripe API", urgent=True, complexity=6) == "quality"


def test_cost_optimized_sends_critical_or_complex_work_to_quality(catalog: Catalog) -> None:
    assert pick(catalog, "cost_optimized", "Fix the footer", severity="critical", complexity=2) == "quality"
    assert pick(catalog, "cost_optimized", "Fix the footer", complexity=7) == "quality"


def test_cost_optimized_sends_simple_work_to_speed_and_the_rest_to_balanced(catalog: Catalog) -> None:
    assert pick(catalog, "cost_optimized", "Fix the footer", estimated_effort="simple") == "speed"
    assert pick(catalog, "cost_optimized", "Fix the footer", estimated_effort="trivial") == "speed"
    assert pick(catalog, "cost_optimized", "Fix the footer", complexity=6, severity="medium") == "balanced"


def test_quality_first_keeps_enterprise_work_on_quality(catalog: Catalog) -> None:
    for complexity in (1, 3, 5, 9):
        assert (
            pick(catalog, "quality_first", "Build a settings page", "aria_coder_frontend",
                 enterprise_requirements=True, complexity=complexity)
            == "quality"
        )
        assert (
            pick(catalog, "quality_first", "Build a settings page", quality_requirement="enterprise", complexity=complexity)
            == "quality"
        )


def test_quality_first_sends_simple_non_enterprise_frontend_work_to_balanced(catalog: Catalog) -> None:
    assert pick(catalog, "quality_first", "Build a settings page", "aria_coder_frontend", complexity=4) == "balanced"
    assert pick(catalog, "quality_first", "Build a settings page", "aria_coder_frontend", complexity=8) == "quality"
    assert pick(catalog, "quality_first", "Build REST endpoints", "aria_coder_backend", complexity=4) == "quality"


@pytest.mark.parametrize("strategy", ["balanced", "intelligent_auto"])
def test_balanced_splits_by_complexity(catalog: Catalog, strategy: str) -> None:
    assert pick(catalog, strategy, "Add a CSV export", complexity=2) == "speed"
    assert pick(catalog, strategy, "Add a CSV export", complexity=5) == "balanced"
    assert pick(catalog, strategy, "Add a CSV export", complexity=9) == "quality"


def test_balanced_keeps_quality_critical_simple_work_off_speed(catalog: Catalog) -> None:
    assert pick(catalog, "balanced", "Add a CSV export", complexity=2, quality_critical=True) == "balanced"
