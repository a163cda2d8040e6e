"""The cost and performance report: spend, calls, tokens, success, latency, budget, saving.

One pass over the attempts of the last `days` builds every figure, so the CLI (`report`), the
MCP tool (`get_cost_report`) and the dashboard agree to the cent. Spend is what the budgets were
charged (`attempts.charged_usd`: the call's cost, or its reservation when a paid model's price
was unknown — never $0).

The saving is measured against running the same work on the strategy's quality model: each
attempt's own tokens (input, cached input, output) priced at the first model of its agent's
`quality` chain. Attempts with no agent use the quality model most agents name; attempts whose
baseline model has no known price are left out of the comparison and counted.

Free tiers make that saving look like 100% where the quality model is free too, or say nothing
about what the routing would save once the free quota is gone; `at_paid_prices` gives the same
comparison with every model at a paid price (a free or local model priced as the cheapest paid
model of its family in the catalogue, else as the cheapest paid model at least as good at code;
attempts with no such price on either side are counted and left out).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from server.backends.base import Usage
from server.backends.pricing import Prices
from server.catalog.schema import Catalog, ModelSpec
from server.errors import InputError
from server.perf.recommend import recommendations
from server.perf.stats import Aggregate, AttemptFact
from server.perf.tracker import PerformanceTracker

__all__ = [
    "GROUP_BY_CHOICES",
    "Baseline",
    "build_report",
    "check_report_args",
    "group_key",
    "paid_equivalent",
    "price_tokens",
]

GROUP_BY_CHOICES: tuple[str, ...] = ("model", "agent", "policy", "group", "day", "provider", "variant", "task_type")
MAX_DAYS = 366.0


def group_key(fact: AttemptFact, group_by: str) -> str:
    """The row a fact falls in for `group_by` (see GROUP_BY_CHOICES)."""
    if group_by == "model":
        return fact.model_id
    if group_by == "agent":
        return fact.agent or "(none)"
    if group_by == "policy":
        return fact.policy or "(none)"
    if group_by == "group":
        return fact.group_name or fact.group_id or "(none)"
    if group_by == "day":
        return fact.day or time.strftime("%Y-%m-%d", time.localtime(fact.started_at))
    if group_by == "provider":
        return fact.provider or "(none)"
    if group_by == "variant":
        return fact.variant or "(none)"
    return fact.task_type or "(unknown)"


def price_tokens(model: ModelSpec, fact: AttemptFact) -> float | None:
    """What `fact`'s tokens would have cost on `model` at catalogue prices (None if unpriced)."""
    if model.tier != "paid":
        return 0.0
    prices = Prices.of(model)
    if prices is None:
        return None
    return prices.cost(
        Usage(input_tokens=fact.input_tokens, output_tokens=fact.output_tokens, cached_input_tokens=fact.cached_tokens)
    )


def paid_equivalent(model: ModelSpec | None, catalog: Catalog) -> ModelSpec | None:
    """`model` itself when paid; else the cheapest paid model of its family with known prices;
    else the cheapest paid model at least as good at code (what replacing it would cost once its
    free quota is gone); None when no paid model is as good."""
    if model is None or model.tier == "paid":
        return model
    priced = [
        m for m in catalog.models.values()
        if m.tier == "paid" and not m.deprecated and m.input_per_mtok is not None and m.output_per_mtok is not None
    ]
    family = [m for m in priced if m.family == model.family]
    pool = family or [m for m in priced if m.score("code") >= model.score("code")]
    return min(pool, key=lambda m: (m.input_per_mtok or 0.0) + (m.output_per_mtok or 0.0), default=None)


class Baseline:
    """Prices attempts on their agent's quality model."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        firsts = Counter(agent.variants["quality"][0] for agent in catalog.agents.values())
        self.default_model_id: str | None = firsts.most_common(1)[0][0] if firsts else None
        self._models: dict[str, ModelSpec | None] = {}

    def model_for(self, fact: AttemptFact) -> ModelSpec | None:
        model = self._models.get(fact.agent, _UNSET)
        if model is _UNSET:
            agent = self.catalog.agents.get(fact.agent)
            model_id = agent.variants["quality"][0] if agent is not None else self.default_model_id
            model = self._models[fact.agent] = self.catalog.models.get(model_id) if model_id else None
        return model

    def cost(self, fact: AttemptFact) -> float | None:
        model = self.model_for(fact)
        return None if model is None else price_tokens(model, fact)

    def paid_costs(self, fact: AttemptFact) -> tuple[float, float] | None:
        """(routed, quality baseline) for `fact`'s tokens, both at paid prices; None if either is unknown."""
        routed_model = paid_equivalent(self.catalog.models.get(fact.model_id), self.catalog)
        base_model = paid_equivalent(self.model_for(fact), self.catalog)
        if routed_model is None or base_model is None:
            return None
        routed, base = price_tokens(routed_model, fact), price_tokens(base_model, fact)
        if routed is None or base is None:
            return None
        return routed, base


_UNSET: Any = object()


@dataclass
class _Row:
    agg: Aggregate
    baseline: float = 0.0
    compared_spend: float = 0.0  # spend of the attempts that have a baseline price
    unpriced: int = 0
    paid_spend: float = 0.0  # the same attempts at paid prices
    paid_baseline: float = 0.0
    paid_unpriced: int = 0

    def as_dict(self, key: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if key is None else {"key": key}
        out.update(self.agg.summary())
        saving = self.baseline - self.compared_spend
        out["quality_baseline_usd"] = round(self.baseline, 6)
        out["saving_usd"] = round(saving, 6)
        out["saving_pct"] = round(100.0 * saving / self.baseline, 2) if self.baseline > 0 else None
        out["baseline_unpriced_calls"] = self.unpriced
        paid_saving = self.paid_baseline - self.paid_spend
        out["at_paid_prices"] = {
            "spend_usd": round(self.paid_spend, 6),
            "quality_baseline_usd": round(self.paid_baseline, 6),
            "saving_usd": round(paid_saving, 6),
            "saving_pct": round(100.0 * paid_saving / self.paid_baseline, 2) if self.paid_baseline > 0 else None,
            "unpriced_calls": self.paid_unpriced,
        }
        return out


def check_report_args(days: float, group_by: str) -> None:
    if not 0 < days <= MAX_DAYS:
        raise InputError("days", f"must be more than 0 and at most {MAX_DAYS:.0f}, got {days}")
    if group_by not in GROUP_BY_CHOICES:
        raise InputError("group_by", f"unknown grouping {group_by!r}", ", ".join(GROUP_BY_CHOICES))


def build_report(
    facts: list[AttemptFact],
    catalog: Catalog,
    *,
    days: float = 7.0,
    group_by: str = "model",
    now: float | None = None,
    budget: dict[str, Any] | None = None,
    tracker: PerformanceTracker | None = None,
) -> dict[str, Any]:
    """The report over `facts` (the attempts of the last `days`), JSON-ready.

    `tracker` supplies model health for the recommendations; without one, health is replayed
    from `facts`. Raises InputError for a bad `days` or `group_by`.
    """
    check_report_args(days, group_by)
    now = time.time() if now is None else now
    baseline = Baseline(catalog)
    total = _Row(Aggregate())
    rows: dict[str, _Row] = {}
    for fact in facts:
        row = rows.get(key := group_key(fact, group_by))
        if row is None:
            row = rows[key] = _Row(Aggregate())
        base = baseline.cost(fact)
        paid = baseline.paid_costs(fact)
        for target in (total, row):
            if paid is None:
                target.paid_unpriced += 1
            else:
                target.paid_spend += paid[0]
                target.paid_baseline += paid[1]
            target.agg.add(fact)
            if base is None:
                target.unpriced += 1
            else:
                target.baseline += base
                target.compared_spend += fact.charged if fact.charged is not None else (fact.cost or 0.0)
    ordered = sorted(rows.items(), key=lambda item: (item[0] if group_by == "day" else "", -item[1].agg.spend, item[0]))
    if tracker is None:
        tracker = PerformanceTracker(catalog, clock=lambda: now)
        for fact in facts:
            tracker.record(fact)
    return {
        "since": now - days * 86400.0,
        "until": now,
        "days": days,
        "group_by": group_by,
        "baseline": "each attempt's tokens priced at the first model of its agent's quality chain"
        + (f" (no agent: {baseline.default_model_id})" if baseline.default_model_id else ""),
        "totals": total.as_dict(),
        "rows": [row.as_dict(key) for key, row in ordered],
        "budget": budget,
        "recommendations": recommendations(facts, catalog, tracker=tracker, days=days, budget=budget, now=now),
    }
