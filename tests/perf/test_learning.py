"""Learned evidence: objective success, time decay instead of a cap, manifest priors, latency weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import Catalog
from server.perf.learning import Learner, LearningPolicy, prior_mean
from server.perf.stats import AttemptFact
from tests.perf.catalog_fixture import write_catalog

DAY = 86400.0


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return write_catalog(tmp_path / "manifests")


def _fact(model: str, t: float, ok: bool = True, *, task_type: str = "crud", variant: str = "speed",
          cost: float = 0.001, latency_ms: float = 1000.0, output_tokens: int = 160,
          validation: bool | None = None) -> AttemptFact:
    return AttemptFact(model, "succeeded" if ok else "failed", t, task_type=task_type, variant=variant,
                       error_class=None if ok else "bad_response", cost=cost, latency_ms=latency_ms,
                       output_tokens=output_tokens, validation_passed=validation)


def test_first_calls_lean_on_the_manifest_prior(catalog: Catalog) -> None:
    learner = Learner(LearningPolicy(prior_strength=4.0))
    premium, cheap = catalog.models["loop/premium"], catalog.models["loop/cheap"]
    assert prior_mean(premium, "crud") > prior_mean(cheap, "crud")
    learner.add(_fact("loop/premium", 0, ok=False), premium)
    cell = learner.cell("crud", "loop/premium", 0)
    assert cell is not None
    # One failure moves a strong prior only part of the way.
    assert 0.6 < cell.posterior(prior_mean(premium, "crud"), 4.0) < prior_mean(premium, "crud")


def test_evidence_halves_every_half_life_and_is_never_capped(catalog: Catalog) -> None:
    learner = Learner(LearningPolicy(half_life_s=DAY))
    model = catalog.models["loop/cheap"]
    for i in range(1000):
        learner.add(_fact("loop/cheap", i * 0.001), model)
    cell = learner.cell("crud", "loop/cheap", 1.0)
    assert cell is not None and cell.calls == 1000
    assert cell.successes == pytest.approx(1000, rel=1e-3)  # no 200-observation cap
    cell = learner.cell("crud", "loop/cheap", 1.0 + DAY)
    assert cell is not None and cell.successes == pytest.approx(500, rel=1e-3)


def test_recent_failures_outweigh_old_successes(catalog: Catalog) -> None:
    learner = Learner(LearningPolicy(half_life_s=DAY))
    model = catalog.models["loop/cheap"]
    for i in range(40):
        learner.add(_fact("loop/cheap", i), model)  # 40 old successes
    now = 10 * DAY
    for i in range(10):
        learner.add(_fact("loop/cheap", now + i, ok=False), model)  # 10 fresh failures
    value, parts = learner.adjustment(model, "loop/cheap", "crud", None, now + 20)
    assert value < 0
    assert parts["observed_success"] < 0.5


def test_failed_validation_is_a_failure_even_when_the_call_succeeded(catalog: Catalog) -> None:
    learner = Learner()
    model = catalog.models["loop/mid"]
    for i in range(10):
        learner.add(_fact("loop/mid", i, ok=True, validation=False), model)
    value, _ = learner.adjustment(model, "loop/mid", "crud", None, 10)
    assert value < 0


def test_latency_counts_as_the_strategy_weighs_it(catalog: Catalog) -> None:
    learner = Learner()
    model = catalog.models["loop/cheap"]  # manifest: 0.2 s + 160 tokens / 200 tok/s = 1.0 s
    for i in range(20):
        learner.add(_fact("loop/cheap", i, latency_ms=4000.0), model)  # 4x slower than advertised
    speed_first, balanced = catalog.strategies["speed_first"], catalog.strategies["balanced"]
    fast, parts = learner.adjustment(model, "loop/cheap", "crud", speed_first, 20)
    even, _ = learner.adjustment(model, "loop/cheap", "crud", balanced, 20)
    assert parts["latency_ratio"] == pytest.approx(4.0, rel=0.01)
    assert fast < even  # the speed-weighted strategy marks the slow model down harder


def test_best_variant_is_the_cheapest_that_succeeds(catalog: Catalog) -> None:
    learner = Learner()
    for i in range(20):
        learner.add(_fact("loop/cheap", i, task_type="docs", variant="speed", cost=0.0002), catalog.models["loop/cheap"])
        learner.add(_fact("loop/premium", i, task_type="docs", variant="quality", cost=0.01), catalog.models["loop/premium"])
    advice = learner.best_variant("docs", catalog.strategies["balanced"], 30)
    assert advice is not None and advice.variant == "speed"
    assert learner.best_variant("crud", None, 30) is None  # nothing known
