"""The body of one "server process" spending from a shared budget against a mispriced provider.

Used by `test_budget_bound.py` and `bench/bench_budget.py`. Each worker opens the store, then
runs `concurrency` call loops: reserve through the ledger from the catalogue estimate, make a
real HTTP call to the loopback provider (which reports its own, higher cost in `usage.cost`),
settle at that cost; a loop ends at its first budget refusal.

`learning=False` is the baseline: every call goes to a model (and provider) the ledger has never
seen, so nothing learned can raise its reservation — the ledger as it was before it learned.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import httpx

from server.errors import BudgetExceeded
from server.store import BudgetLimits, Store

__all__ = ["Spend", "spend_until_refused"]


@dataclass(frozen=True)
class Spend:
    db: str
    url: str  # the loopback provider's OpenAI-compatible base URL
    model: str  # the provider's model name (its reply carries the real cost)
    estimate: float  # catalogue estimate of one call (USD)
    cap: float  # catalogue estimate at the maximum output (USD)
    daily: float
    concurrency: int
    learning: bool = True
    max_calls: int = 200


async def _spend(job: Spend, worker: int) -> int:
    store = await Store.open(job.db)
    limits = BudgetLimits(daily=job.daily)
    counter = itertools.count()
    made = 0

    async def loop(http: httpx.AsyncClient) -> None:
        nonlocal made
        while made < job.max_calls:
            n = next(counter)
            model = job.model if job.learning else f"{job.model}-{worker}-{n}"
            provider = "loopa" if job.learning else f"p-{worker}-{n}"
            try:
                attempt = await store.begin_attempt(None, None, model, provider, "balanced", job.estimate, True,
                                                    limits, cap_usd=job.cap)
            except BudgetExceeded:
                return
            made += 1
            response = await http.post(f"{job.url}/chat/completions", json={
                "model": job.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64})
            cost = float(response.json()["usage"]["cost"])
            await store.settle_attempt(attempt.id, status="succeeded", cost=cost, cost_source="provider_reported")

    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.gather(*(loop(http) for _ in range(job.concurrency)))
    finally:
        await store.close()
    return made


def spend_until_refused(job: Spend, worker: int) -> None:
    """Child-process entry point."""
    asyncio.run(_spend(job, worker))
