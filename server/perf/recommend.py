"""Recommendations derived from recorded attempts, each with its evidence and estimated saving.

Kinds, most valuable first:
- `route_cheaper`: on one task type, a model succeeds >= 90% over >= 10 calls at a fraction of
  what the other models used for that work cost per success → route that work to it (or to its
  variant). Saving: the other models' successes re-priced at its cost per success.
- `demoted`: a model failed >= 20% of >= 10 calls → its fallbacks go first. Saving: what its
  failed calls cost (spent for nothing).
- `slow`: a model's successful calls ran >= 2x slower than its manifest says (routing time
  estimates are off, and latency-weighted strategies will avoid it).
- `unknown_prices`: calls whose price was unknown, charged at their reservation.
- `budget`: a budget at its warn or stop threshold.
Savings are over the report's window, with a 30-day projection.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from server.catalog.schema import Catalog
from server.formatting import plural, usd
from server.perf.stats import Aggregate, AttemptFact
from server.perf.tracker import PerformanceTracker

__all__ = ["Thresholds", "recommendations"]


@dataclass(frozen=True)
class Thresholds:
    min_calls: int = 10
    good_success: float = 0.9
    peer_min_calls: int = 5
    cost_ratio: float = 3.0  # a peer must cost this many times more per success
    bad_success: float = 0.8
    slow_ratio: float = 2.0


def _cost_per_success(agg: Aggregate) -> float | None:
    return agg.spend / agg.successes if agg.successes else None


def _rec(kind: str, text: str, evidence: dict[str, Any], saving: float | None, days: float, action: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "recommendation": text,
        "action": action,
        "evidence": evidence,
        "estimated_saving_usd": None if saving is None else round(saving, 6),
        "estimated_saving_per_30_days_usd": None if saving is None else round(saving * 30.0 / days, 4),
    }


def recommendations(
    facts: list[AttemptFact],
    catalog: Catalog,
    *,
    tracker: PerformanceTracker | None,
    days: float,
    budget: dict[str, Any] | None,
    now: float,
    thresholds: Thresholds | None = None,
) -> list[dict[str, Any]]:
    """Every recommendation the facts support, biggest estimated saving first."""
    th = thresholds or Thresholds()
    by_type_model: dict[tuple[str, str], Aggregate] = defaultdict(Aggregate)
    by_model: dict[str, Aggregate] = defaultdict(Aggregate)
    variant_of: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    wasted: dict[str, float] = defaultdict(float)
    for fact in facts:
        by_model[fact.model_id].add(fact)
        if fact.task_type:
            by_type_model[(fact.task_type, fact.model_id)].add(fact)
            if fact.variant:
                variant_of[(fact.task_type, fact.model_id)][fact.variant] += 1
        if fact.counted and not fact.success:
            wasted[fact.model_id] += fact.charged if fact.charged is not None else (fact.cost or 0.0)
    out: list[dict[str, Any]] = []
    out.extend(_route_cheaper(by_type_model, variant_of, th, days))
    out.extend(_demoted(by_model, wasted, tracker, th, days, now))
    out.extend(_slow(facts, catalog, th, days))
    out.extend(_unknown_prices(by_model, days))
    out.extend(_budget(budget, days))
    out.sort(key=lambda r: -(r["estimated_saving_usd"] or 0.0))
    return out


def _top(counts: Counter[str]) -> str:
    return counts.most_common(1)[0][0] if counts else ""


def _route_cheaper(
    cells: dict[tuple[str, str], Aggregate], variant_of: dict[tuple[str, str], Counter[str]], th: Thresholds, days: float
) -> list[dict[str, Any]]:
    out = []
    for task_type in sorted({key[0] for key in cells}):
        models = {m: agg for (t, m), agg in cells.items() if t == task_type}
        good = {
            m: agg for m, agg in models.items()
            if agg.counted >= th.min_calls and (agg.success_rate or 0) >= th.good_success
            and _cost_per_success(agg) is not None
        }
        if not good:
            continue
        best = min(good, key=lambda m: (_cost_per_success(good[m]) or 0.0, -(good[m].success_rate or 0)))
        best_cps = _cost_per_success(good[best]) or 0.0
        peers: list[dict[str, Any]] = []
        saving = 0.0
        for model_id, agg in models.items():
            cps = _cost_per_success(agg)
            if model_id == best or agg.counted < th.peer_min_calls or cps is None:
                continue
            if cps < max(best_cps * th.cost_ratio, 1e-9):
                continue
            saving += agg.successes * (cps - best_cps)
            peers.append({
                "model_id": model_id,
                "variant": _top(variant_of[(task_type, model_id)]),
                "calls": agg.calls,
                "success_rate": round(agg.success_rate or 0, 4),
                "cost_per_success_usd": round(cps, 6),
                "times_the_cost": None if best_cps <= 0 else round(cps / best_cps, 1),
            })
        if not peers:
            continue
        agg = good[best]
        variant = _top(variant_of[(task_type, best)]) or "its variant"
        priciest = max(peers, key=lambda p: float(p["cost_per_success_usd"]))
        peer = f"{priciest['model_id']} ({priciest['variant'] or 'another variant'})"
        if best_cps <= 0:
            price, versus = "no cost", f"{peer} costs ${priciest['cost_per_success_usd']:.4f} per success"
        else:
            price, versus = f"${best_cps:.4f} per success", f"{peer} costs {priciest['times_the_cost']}x"
        text = (
            f"{best} succeeds {agg.success_rate:.0%} on {task_type} tasks over {agg.counted} calls at {price}; "
            f"{versus}: route {task_type} to {variant}"
        )
        out.append(_rec(
            "route_cheaper", text,
            {"task_type": task_type, "model_id": best, "variant": variant, "calls": agg.calls,
             "success_rate": round(agg.success_rate or 0, 4), "cost_per_success_usd": round(best_cps, 6),
             "pricier_peers": peers},
            saving, days,
            f"route {task_type} tasks to the {variant} variant (routing learns this on its own; a caller can "
            "still pin a minimum variant)",
        ))
    return out


def _demoted(
    models: dict[str, Aggregate], wasted: dict[str, float], tracker: PerformanceTracker | None,
    th: Thresholds, days: float, now: float,
) -> list[dict[str, Any]]:
    out = []
    for model_id, agg in sorted(models.items()):
        rate = agg.success_rate
        health = tracker.health.get(model_id) if tracker is not None else None
        state = health.state(now) if health is not None else "healthy"
        if state == "healthy" and (agg.counted < th.min_calls or rate is None or rate >= th.bad_success):
            continue
        failed_share = 1.0 - (rate or 0.0)
        verdict = "demoted" if state != "healthy" else "below the 80% bar"
        text = f"{model_id} failed {failed_share:.0%} over {agg.counted} calls: {verdict}"
        if health is not None and health.reason:
            text += f" ({health.reason})"
        out.append(_rec(
            "demoted", text,
            {"model_id": model_id, "calls": agg.calls, "counted_calls": agg.counted,
             "success_rate": None if rate is None else round(rate, 4), "state": state,
             "error_classes": dict(agg.error_classes.most_common(5)),
             "spent_on_failures_usd": round(wasted.get(model_id, 0.0), 6)},
            wasted.get(model_id, 0.0), days,
            "its fallbacks go first until a probe call succeeds; check its provider's status or key",
        ))
    return out


def _slow(facts: list[AttemptFact], catalog: Catalog, th: Thresholds, days: float) -> list[dict[str, Any]]:
    observed: dict[str, list[float]] = defaultdict(list)
    expected: dict[str, list[float]] = defaultdict(list)
    for fact in facts:
        model = catalog.models.get(fact.model_id)
        if model is None or not fact.success or fact.latency_ms is None:
            continue
        observed[fact.model_id].append(fact.latency_ms)
        expected[fact.model_id].append(
            1000.0 * (model.first_token_seconds + fact.output_tokens / model.tokens_per_second)
        )
    out = []
    for model_id, values in sorted(observed.items()):
        if len(values) < th.min_calls:
            continue
        ratio = sum(values) / max(sum(expected[model_id]), 1.0)
        if ratio < th.slow_ratio:
            continue
        out.append(_rec(
            "slow",
            f"{model_id} answered {ratio:.1f}x slower than its manifest says over {len(values)} calls",
            {"model_id": model_id, "calls": len(values), "observed_mean_ms": round(sum(values) / len(values), 1),
             "manifest_mean_ms": round(sum(expected[model_id]) / len(values), 1)},
            None, days,
            "update its tokens_per_second / first_token_seconds in a manifest overlay, or prefer a faster peer",
        ))
    return out


def _unknown_prices(models: dict[str, Aggregate], days: float) -> list[dict[str, Any]]:
    out = []
    for model_id, agg in sorted(models.items()):
        if agg.unknown_cost_calls == 0:
            continue
        out.append(_rec(
            "unknown_prices",
            f"{plural(agg.unknown_cost_calls, 'call')} to {model_id} had no known price; they were charged at their reservation",
            {"model_id": model_id, "calls": agg.unknown_cost_calls},
            None, days,
            "run `parallel-work-manager models sync` or add prices in a manifest overlay",
        ))
    return out


def _budget(budget: dict[str, Any] | None, days: float) -> list[dict[str, Any]]:
    out = []
    for period in (budget or {}).get("periods", []):
        if period.get("state") not in ("warn", "stop"):
            continue
        fraction = period.get("fraction") or 0.0
        out.append(_rec(
            "budget",
            f"{period['name']} budget at {fraction:.0%} ({usd(period['spent'] + period['reserved'])} of "
            f"{usd(period['limit'])}): {'paid models paused' if period['state'] == 'stop' else 'warning'}",
            dict(period), None, days,
            "prefer the cost_optimized strategy, route more work to local/free models, or raise the limit",
        ))
    return out
