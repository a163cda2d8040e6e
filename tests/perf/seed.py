"""Write real attempt rows through the store's API (groups, tasks, begin/settle) for perf tests.

Used by the perf, ops and dashboard tests and by `bench/bench_report.py`. Every row goes through
`Store.create_group`, `begin_attempt` and `settle_attempt`, exactly as the scheduler writes them.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass

from server.catalog import VARIANTS, Catalog, Variant
from server.perf.report import price_tokens
from server.perf.stats import AttemptFact
from server.store import BudgetLimits, NewGroup, NewTask, Store

__all__ = ["SeedAttempt", "seed", "simulate"]


@dataclass(frozen=True)
class SeedAttempt:
    model_id: str
    started_at: float
    task_type: str = "crud"
    agent: str = "aria_coder_backend"
    variant: str = "speed"
    status: str = "succeeded"
    error_class: str | None = None
    http_status: int | None = None
    input_tokens: int = 1000
    output_tokens: int = 500
    cached_tokens: int = 0
    latency_ms: float | None = 1500.0
    cost: float | None = -1.0  # -1: price the tokens at the catalogue's prices; None: unknown
    group: str = "seeded"
    policy: str = "code"
    repo: str | None = None  # the repository key the attempt records


async def seed(store: Store, catalog: Catalog, attempts: list[SeedAttempt]) -> list[int]:
    """Store `attempts` (one task each, grouped by `group`); returns the attempt ids."""
    by_group: dict[str, list[SeedAttempt]] = defaultdict(list)
    for row in attempts:
        by_group[row.group].append(row)
    ids: list[int] = []
    limits = BudgetLimits()
    for name, rows in by_group.items():
        tasks = [
            NewTask(
                key=f"t{i}", position=i, agent_type=f"{row.agent}_{row.variant}", agent=row.agent,
                variant=row.variant, agent_name=f"{row.agent}_{row.variant}", description=f"seeded {row.task_type}",
                plan_json=json.dumps({"task_type": row.task_type}),
            )
            for i, row in enumerate(rows)
        ]
        group = await store.create_group(
            NewGroup(name=name, strategy="balanced", policy=rows[0].policy, max_concurrent=4), tasks
        )
        await store.finish_group(group.id, "succeeded")
        records = await store.list_tasks(group.id)
        for task, row in zip(sorted(records, key=lambda t: t.position), rows, strict=True):
            model = catalog.models[row.model_id]
            cost = row.cost
            if cost is not None and cost < 0:
                cost = price_tokens(model, _fact(row))
            attempt = await store.begin_attempt(
                task.id, group.id, row.model_id, model.provider, row.variant, cost or 0.0,
                model.tier == "paid", limits, now=row.started_at, repo=row.repo,
            )
            await store.settle_attempt(
                attempt.id, status=row.status, input_tokens=row.input_tokens, output_tokens=row.output_tokens,
                cached_tokens=row.cached_tokens, cost=cost, cost_source="catalog" if cost is not None else "unknown",
                latency_ms=row.latency_ms, first_token_ms=200.0 if row.latency_ms else None,
                error_class=row.error_class, http_status=row.http_status,
                now=row.started_at + (row.latency_ms or 0) / 1000.0,
            )
            ids.append(attempt.id)
    return ids


def _fact(row: SeedAttempt) -> AttemptFact:
    return AttemptFact(model_id=row.model_id, status=row.status, started_at=row.started_at,
                       input_tokens=row.input_tokens, output_tokens=row.output_tokens,
                       cached_tokens=row.cached_tokens)


TASK_TYPES = ("crud", "api", "docs", "tests", "bug_fix", "architecture")
FAIL_RATES = {"loop/cheap": 0.05, "loop/flaky": 0.4, "loop/mid": 0.04, "loop/premium": 0.02, "loop/local": 0.08}


def simulate(catalog: Catalog, n: int, *, end: float, days: float = 30.0, rng_seed: int = 7,
             per_group: int = 50) -> list[SeedAttempt]:
    """`n` attempts spread over `days` before `end`, with realistic variety (seeded)."""
    rng = random.Random(rng_seed)
    start = end - days * 86400.0
    out = []
    agents = list(catalog.agents.values())
    for i in range(n):
        at = start + (i + rng.random()) * (end - start - 60) / n
        agent = rng.choice(agents)
        variant: Variant = rng.choices(VARIANTS, weights=(6, 3, 1))[0]
        model_id = agent.variants[variant][0 if rng.random() < 0.85 else -1]
        model = catalog.models[model_id]
        failed = rng.random() < FAIL_RATES.get(model_id, 0.05)
        output = rng.randint(100, 2000)
        latency = 1000.0 * (model.first_token_seconds + output / model.tokens_per_second) * rng.uniform(0.7, 1.6)
        error = rng.choice(("timeout", "bad_response", "rate_limited")) if failed else None
        out.append(SeedAttempt(
            model_id=model_id, started_at=at, task_type=rng.choice(TASK_TYPES), agent=agent.name,
            variant=variant, status="failed" if failed else "succeeded", error_class=error,
            input_tokens=rng.randint(200, 6000), output_tokens=0 if failed else output,
            cached_tokens=rng.choice((0, 0, 0, 500)), latency_ms=None if failed else latency,
            group=f"sim-{i // per_group}", policy=rng.choice(("code", "code", "normal", "ops")),
        ))
    return out
