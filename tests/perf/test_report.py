"""The report's figures equal sums computed independently from the attempts table."""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from server.catalog import Catalog
from server.errors import InputError
from server.perf import PerfReader, build_report
from server.perf.service import cost_report
from server.settings import Settings
from server.store import Store
from tests.perf.catalog_fixture import write_catalog
from tests.perf.seed import SeedAttempt, seed, simulate

DAY = 86400.0


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path / "manifests")


async def _seeded(catalog: Catalog, settings: Settings, rows: list[SeedAttempt]) -> None:
    store = await Store.open(settings.db_path)
    try:
        await seed(store, catalog, rows)
    finally:
        await store.close()


def _sql(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


async def test_totals_and_rows_equal_independent_sums(catalog: Catalog, settings: Settings) -> None:
    now = time.time()
    rows = simulate(catalog, 600, end=now, days=14)
    rows.append(SeedAttempt("loop/mid", now - 3600, cost=None, group="unpriced"))  # unknown price
    await _seeded(catalog, settings, rows)
    async with PerfReader(settings.db_path) as reader:
        report = await cost_report(reader, catalog, settings, days=7, group_by="model", now=now)
    since = now - 7 * DAY
    calls, spend, tin, tout, ok = _sql(
        settings.db_path,
        "SELECT COUNT(*), SUM(charged_usd), SUM(input_tokens), SUM(output_tokens), SUM(status = 'succeeded')"
        " FROM attempts WHERE started_at >= ? AND started_at < ?", (since, now),
    )[0]
    totals = report["totals"]
    assert totals["calls"] == calls
    assert totals["spend_usd"] == pytest.approx(spend, abs=1e-6)
    assert (totals["input_tokens"], totals["output_tokens"], totals["successes"]) == (tin, tout, ok)
    assert totals["unknown_cost_calls"] == 1
    per_model = dict(_sql(
        settings.db_path,
        "SELECT model_id, SUM(charged_usd) FROM attempts WHERE started_at >= ? AND started_at < ? GROUP BY model_id",
        (since, now),
    ))
    assert {r["key"]: pytest.approx(r["spend_usd"], abs=1e-6) for r in report["rows"]} == per_model
    latencies = sorted(v for (v,) in _sql(
        settings.db_path,
        "SELECT latency_ms FROM attempts WHERE model_id = 'loop/mid' AND status = 'succeeded'"
        " AND latency_ms IS NOT NULL AND started_at >= ? AND started_at < ?", (since, now),
    ))
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    mid = next(r for r in report["rows"] if r["key"] == "loop/mid")
    assert mid["latency_ms"]["p50"] == pytest.approx(q[49], abs=0.1)
    assert mid["latency_ms"]["p95"] == pytest.approx(q[94], abs=0.1)
    assert mid["latency_ms"]["p99"] == pytest.approx(q[98], abs=0.1)


@pytest.mark.parametrize(
    ("group_by", "key_sql"),
    [
        ("day", "a.day"),
        ("agent", "t.agent"),
        ("policy", "g.policy"),
        ("group", "g.name"),
    ],
)
async def test_every_grouping_sums_to_the_table(catalog: Catalog, settings: Settings, group_by: str, key_sql: str) -> None:
    now = time.time()
    await _seeded(catalog, settings, simulate(catalog, 300, end=now, days=10, rng_seed=3))
    async with PerfReader(settings.db_path) as reader:
        report = await cost_report(reader, catalog, settings, days=10, group_by=group_by, now=now)
    expected = dict(_sql(
        settings.db_path,
        f"SELECT {key_sql}, SUM(a.charged_usd) FROM attempts a LEFT JOIN tasks t ON t.id = a.task_id"
        " LEFT JOIN groups g ON g.id = a.group_id WHERE a.started_at >= ? AND a.started_at < ?"
        f" GROUP BY {key_sql}", (now - 10 * DAY, now),
    ))
    assert {r["key"]: pytest.approx(r["spend_usd"], abs=1e-6) for r in report["rows"]} == expected
    if group_by == "day":
        assert [r["key"] for r in report["rows"]] == sorted(expected)


async def test_saving_prices_the_same_tokens_on_the_quality_model(catalog: Catalog, settings: Settings) -> None:
    now = time.time()
    await _seeded(catalog, settings, [
        SeedAttempt("loop/cheap", now - 100, input_tokens=10_000, output_tokens=2_000, cached_tokens=1_000),
        SeedAttempt("loop/local", now - 50, agent="aria_docs", input_tokens=4_000, output_tokens=1_000),
    ])
    async with PerfReader(settings.db_path) as reader:
        report = await cost_report(reader, catalog, settings, days=1, now=now)
    premium = catalog.models["loop/premium"]  # the first quality model of both agents
    assert premium.input_per_mtok is not None and premium.output_per_mtok is not None
    baseline = (9_000 * premium.input_per_mtok + 1_000 * premium.input_per_mtok + 2_000 * premium.output_per_mtok
                + 4_000 * premium.input_per_mtok + 1_000 * premium.output_per_mtok) / 1e6
    actual = (9_000 * 0.1 + 1_000 * 0.1 + 2_000 * 0.4) / 1e6
    assert report["totals"]["quality_baseline_usd"] == pytest.approx(baseline, abs=1e-6)
    assert report["totals"]["saving_usd"] == pytest.approx(baseline - actual, abs=1e-6)


async def test_recommendations_carry_evidence_and_estimated_saving(catalog: Catalog, settings: Settings) -> None:
    now = time.time()
    rows = [SeedAttempt("loop/cheap", now - 5000 + i, task_type="docs", agent="aria_docs", variant="speed",
                        input_tokens=1000, output_tokens=300) for i in range(20)]
    rows += [SeedAttempt("loop/premium", now - 4000 + i, task_type="docs", agent="aria_docs", variant="quality",
                         input_tokens=1000, output_tokens=300) for i in range(10)]
    rows += [SeedAttempt("loop/flaky", now - 3000 + i, task_type="crud", status="failed" if i % 5 < 2 else "succeeded",
                         error_class="unparseable" if i % 5 < 2 else None) for i in range(25)]
    await _seeded(catalog, settings, rows)
    async with PerfReader(settings.db_path) as reader:
        report = await cost_report(reader, catalog, settings, days=1, now=now)
    recs = {r["kind"]: r for r in report["recommendations"]}
    route = recs["route_cheaper"]
    assert route["evidence"]["model_id"] == "loop/cheap" and route["evidence"]["task_type"] == "docs"
    assert "route docs to speed" in route["recommendation"]
    cheap_cps = (1000 * 0.1 + 300 * 0.4) / 1e6
    premium_cps = (1000 * 3.0 + 300 * 15.0) / 1e6
    assert route["estimated_saving_usd"] == pytest.approx(10 * (premium_cps - cheap_cps), rel=1e-3)
    assert route["evidence"]["pricier_peers"][0]["times_the_cost"] == pytest.approx(premium_cps / cheap_cps, abs=0.1)
    demoted = recs["demoted"]
    assert demoted["recommendation"].startswith("loop/flaky failed 40% over 25 calls: demoted")
    assert demoted["evidence"]["error_classes"] == {"unparseable": 10}


async def test_failed_calls_charged_nothing_are_not_counted_as_unpriced(catalog: Catalog, settings: Settings) -> None:
    now = time.time()
    failures = [("bad_response", 500), ("auth", 401), ("rate_limited", 429), ("timeout", None)]
    rows = [SeedAttempt("loop/mid", now - 100 + i, status="failed", error_class=error, http_status=status, cost=None,
                        output_tokens=0) for i, (error, status) in enumerate(failures)]
    rows.append(SeedAttempt("loop/cheap", now - 50, cost=None))  # answered, no price: charged its reservation
    await _seeded(catalog, settings, rows)
    async with PerfReader(settings.db_path) as reader:
        report = await cost_report(reader, catalog, settings, days=1, now=now)
    rows_by_model = {r["key"]: r for r in report["rows"]}
    assert rows_by_model["loop/mid"]["unknown_cost_calls"] == 0 and rows_by_model["loop/mid"]["spend_usd"] == 0.0
    assert rows_by_model["loop/cheap"]["unknown_cost_calls"] == 1 and report["totals"]["unknown_cost_calls"] == 1
    unpriced = [r for r in report["recommendations"] if r["kind"] == "unknown_prices"]
    assert [r["evidence"] for r in unpriced] == [{"model_id": "loop/cheap", "calls": 1}]


def test_the_statuses_billed_without_a_cost_are_the_ledgers() -> None:
    from server.perf.stats import BILLED_STATUSES
    from server.store.ledger import BILLED_WITHOUT_FIGURE

    assert BILLED_STATUSES == BILLED_WITHOUT_FIGURE


def test_bad_days_or_grouping_name_the_field(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="days"):
        build_report([], catalog, days=0)
    with pytest.raises(InputError, match="group_by.*accepted: model"):
        build_report([], catalog, group_by="colour")


def test_the_saving_is_also_given_at_paid_prices_with_free_models_priced_as_their_paid_family() -> None:
    from server.catalog import load_catalog
    from server.perf.report import paid_equivalent
    from server.perf.stats import AttemptFact

    shipped = load_catalog()
    pairs = [
        (m, paid_equivalent(m, shipped)) for m in shipped.models.values()
        if m.tier == "free" and paid_equivalent(m, shipped) is not None
    ]
    assert pairs, "the shipped catalogue has free models whose family also has a paid model"
    free, paid = pairs[0]
    assert paid is not None and paid.tier == "paid" and paid.family == free.family
    fact = AttemptFact(free.id, "succeeded", time.time() - 10, provider=free.provider, agent="aria_coder",
                       input_tokens=100_000, output_tokens=20_000, cost=0.0, charged=0.0)
    report = build_report([fact], shipped, days=1)
    at_paid = report["totals"]["at_paid_prices"]
    expected_spend = (100_000 * (paid.input_per_mtok or 0.0) + 20_000 * (paid.output_per_mtok or 0.0)) / 1e6
    assert report["totals"]["spend_usd"] == 0.0  # free tier: nothing charged ...
    assert at_paid["spend_usd"] == pytest.approx(expected_spend, abs=1e-6)  # ... but not free at paid prices
    assert at_paid["quality_baseline_usd"] > at_paid["spend_usd"] > 0
    assert at_paid["saving_pct"] < 100.0 and at_paid["unpriced_calls"] == 0


def test_a_free_model_without_a_paid_family_is_priced_as_the_cheapest_paid_model_as_good_at_code() -> None:
    from server.catalog import load_catalog
    from server.perf.report import paid_equivalent

    shipped = load_catalog()
    paid_families = {m.family for m in shipped.models.values() if m.tier == "paid"}
    orphans = [m for m in shipped.models.values() if m.tier != "paid" and m.family not in paid_families]
    assert orphans, "the shipped catalogue has free or local models with no paid family member"
    for model in orphans:
        price = paid_equivalent(model, shipped)
        as_good = [m for m in shipped.models.values() if m.tier == "paid" and not m.deprecated
                   and m.input_per_mtok is not None and m.output_per_mtok is not None
                   and m.score("code") >= model.score("code")]
        if not as_good:
            assert price is None
            continue
        assert price is not None and price.score("code") >= model.score("code")
        cheapest = min((m.input_per_mtok or 0.0) + (m.output_per_mtok or 0.0) for m in as_good)
        assert (price.input_per_mtok or 0.0) + (price.output_per_mtok or 0.0) == cheapest
