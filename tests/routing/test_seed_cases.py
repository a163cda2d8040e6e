"""The seed's routing cases (see `tests.routing.cases` for where they are read): at least 15 of 16
must get their expected variant, routed over the shipped catalogue the way route_task does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.analysis import TaskHints, analyze
from server.catalog import Catalog
from server.routing import Router, RouteRequest, parse_agent_type
from tests.routing.cases import load_cases

HINT_FIELDS = set(TaskHints.__dataclass_fields__)


def routed_variant(router: Router, catalog: Catalog, case: dict[str, Any]) -> str:
    # The seed's context carries the hints route_task accepts (and parallel_execution, which
    # says nothing about routing).
    context = {k: v for k, v in case["context"].items() if k in HINT_FIELDS}
    hints = TaskHints(agent_type=case["agent_type"], **context)
    plan = router.route(
        RouteRequest(
            analysis=analyze(case["description"], hints),
            agent=parse_agent_type(case["agent_type"], catalog),
            strategy=case["routing_strategy"],
            policy="code",
            hints=hints,
        )
    )
    return plan.variant


@pytest.mark.parametrize("catalog_name", ["shipped_catalog", "fixture_catalog"])
def test_at_least_15_of_the_16_seed_cases_get_their_expected_variant(
    request: pytest.FixtureRequest, catalog_name: str
) -> None:
    catalog: Catalog = request.getfixturevalue(catalog_name)
    cases = load_cases()
    router = Router(catalog)
    misses = [
        f"{case['id']}: expected {case['expected_variant']}, got {variant}"
        for case in cases
        if (variant := routed_variant(router, catalog, case)) != case["expected_variant"]
    ]
    assert len(cases) == 16
    assert len(misses) <= 1, misses


def test_missing_seed_cases_fail_the_test_instead_of_skipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PWM_ROUTING_CASES", str(tmp_path / "absent.jsonl"))
    with pytest.raises(pytest.fail.Exception, match="PWM_ROUTING_CASES"):
        load_cases()
