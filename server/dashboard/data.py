"""The dashboard's data: one JSON document built from the same report the CLI prints.

Spend per day (every calendar day of the period, so the time axis is even) with round, evenly
spaced axis ticks; latency percentiles and success rates per model, model health, budget
status, and the recent groups, running and finished, with their progress.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from server.perf.report import build_report, group_key
from server.perf.service import PerfServices, read_budget

__all__ = ["RECENT_GROUPS", "axis_ticks", "dashboard_data"]

RECENT_GROUPS = 20


def axis_ticks(top: float, count: int = 4) -> list[float]:
    """`count + 1` evenly spaced, round tick values from 0 covering `top`.

    The step is 1, 2, 2.5 or 5 times a power of ten, so labels read as round amounts.

    >>> axis_ticks(0.0123)
    [0.0, 0.005, 0.01, 0.015, 0.02]
    >>> axis_ticks(7.3)
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    if not math.isfinite(top) or top <= 0:
        top = 0.01  # nothing to show: a one-cent axis
    raw = top / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw * (1 - 1e-12))
    digits = max(0, -math.floor(math.log10(step)) + 2)
    return [round(i * step, digits) for i in range(count + 1)]


def _days(since: float, now: float) -> list[str]:
    first = dt.date.fromtimestamp(since)
    last = dt.date.fromtimestamp(now)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


async def dashboard_data(services: PerfServices, days: float = 30.0, now: float | None = None) -> dict[str, Any]:
    """Everything the dashboard draws, JSON-ready (money in USD, latencies in ms)."""
    now = time.time() if now is None else now
    since = now - days * 86400.0
    await services.ensure_fresh()
    budget = await read_budget(services.settings, services.store)
    if services.reader.exists:
        facts = await services.reader.attempt_facts(since, now)
        groups = await services.reader.recent_groups(RECENT_GROUPS)
    else:
        facts, groups = [], []
    by_model = build_report(facts, services.catalog, days=days, group_by="model", now=now, budget=budget,
                            tracker=services.tracker)
    per_day: dict[str, list[float]] = {day: [0.0, 0.0] for day in _days(since, now)}
    for fact in facts:  # one cheap pass; the figures are the report's own (spend = charged)
        cell = per_day.setdefault(group_key(fact, "day"), [0.0, 0.0])
        cell[0] += fact.charged if fact.charged is not None else (fact.cost or 0.0)
        cell[1] += 1
    clock = services.tracker.clock()
    health = {mid: h.state(clock) for mid, h in services.tracker.health.items()}
    models = []
    for row in by_model["rows"]:
        models.append({
            "model_id": row["key"],
            "spend_usd": row["spend_usd"],
            "calls": row["calls"],
            "success_rate": row["success_rate"],
            "latency_ms": row["latency_ms"],
            "output_tokens_per_s": row["output_tokens_per_s"],
            "health": health.get(row["key"], "healthy"),
        })
    spend_per_day = [
        {"day": day, "spend_usd": round(spend, 6), "calls": int(calls)} for day, (spend, calls) in sorted(per_day.items())
    ]
    return {
        "generated_at": now,
        "days": days,
        "totals": by_model["totals"],
        "spend_per_day": spend_per_day,
        "spend_axis": axis_ticks(max((spend for spend, _ in per_day.values()), default=0.0)),
        "models": models,
        "groups": groups,
        "running_groups": [g for g in groups if g["status"] == "running"],
        "budget": budget,
        "recommendations": by_model["recommendations"][:5],
    }
