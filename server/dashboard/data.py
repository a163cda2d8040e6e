"""The dashboard's data: one JSON document built from the same report the CLI prints.

Spend per day and per model, latency percentiles and success rates per model, model health,
budget status, and the groups still running with their progress.
"""

from __future__ import annotations

import time
from typing import Any

from server.perf.report import build_report, group_key
from server.perf.service import PerfServices, read_budget

__all__ = ["dashboard_data"]


async def dashboard_data(services: PerfServices, days: float = 30.0, now: float | None = None) -> dict[str, Any]:
    """Everything the dashboard draws, JSON-ready (money in USD, latencies in ms)."""
    now = time.time() if now is None else now
    since = now - days * 86400.0
    await services.ensure_fresh()
    budget = await read_budget(services.settings, services.store)
    if services.reader.exists:
        facts = await services.reader.attempt_facts(since, now)
        running = await services.reader.running_groups()
    else:
        facts, running = [], []
    by_model = build_report(facts, services.catalog, days=days, group_by="model", now=now, budget=budget,
                            tracker=services.tracker)
    per_day: dict[str, list[float]] = {}
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
    return {
        "generated_at": now,
        "days": days,
        "totals": by_model["totals"],
        "spend_per_day": [
            {"day": day, "spend_usd": round(spend, 6), "calls": int(calls)}
            for day, (spend, calls) in sorted(per_day.items())
        ],
        "models": models,
        "running_groups": running,
        "budget": budget,
        "recommendations": by_model["recommendations"][:5],
    }
