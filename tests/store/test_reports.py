"""Report queries: aggregates equal sums computed independently from the attempt rows."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from server.errors import InputError
from server.store import BudgetLimits, Store
from tests.store.helpers import new_group, new_tasks


async def _seed(store: Store) -> None:
    rng = random.Random(7)
    group = await store.create_group(new_group("r"), new_tasks(5))
    tasks = await store.list_tasks(group.id)
    for i in range(60):
        task = tasks[i % 5]
        model = rng.choice(["a", "b", "c"])
        attempt = await store.begin_attempt(task.id, group.id, model, "p", "speed", 0.01, True,
                                            BudgetLimits(), now=1_700_000_000 + i * 3600)
        ok = rng.random() < 0.7
        await store.settle_attempt(
            attempt.id, status="succeeded" if ok else "failed", cost=rng.random() / 100 if ok else None,
            cost_source="catalog", input_tokens=rng.randint(1, 900), output_tokens=rng.randint(1, 300),
            latency_ms=rng.uniform(50, 900), now=1_700_000_000 + i * 3600 + 2,
        )


@pytest.mark.parametrize("group_by", ["model", "agent", "policy", "group", "day"])
async def test_aggregate_matches_sums_over_the_attempts(store: Store, group_by: str) -> None:
    await _seed(store)
    attempts = await store.attempts_since(0)
    tasks = {t.id: t for g in await store.list_groups() for t in await store.list_tasks(g.id)}
    key = {
        "model": lambda a: a.model_id, "agent": lambda a: tasks[a.task_id].agent,
        "policy": lambda a: "code", "group": lambda a: a.group_id, "day": lambda a: a.day,
    }[group_by]
    expected: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for a in attempts:
        row = expected[key(a)]
        row[0] += 1
        row[1] += a.status == "succeeded"
        row[2] += a.charged_usd
        row[3] += a.input_tokens
    got = {r.key: [r.calls, r.successes, r.spend_usd, r.input_tokens] for r in await store.aggregate(0, group_by)}
    assert got.keys() == expected.keys()
    for k, row in expected.items():
        assert got[k][:2] == row[:2] and got[k][2] == pytest.approx(row[2]) and got[k][3] == row[3]


async def test_time_windows_and_model_filter_select_the_right_attempts(store: Store) -> None:
    await _seed(store)
    since, until = 1_700_000_000 + 10 * 3600, 1_700_000_000 + 20 * 3600
    window = await store.attempts_since(since)
    assert len(window) == 50 and all(a.started_at >= since for a in window)
    only_a = await store.attempts_since(0, model_id="a")
    assert only_a and {a.model_id for a in only_a} == {"a"}
    rows = await store.aggregate(since, "model", until=until)
    assert sum(r.calls for r in rows) == 10
    samples = await store.latency_samples(0, "model")
    assert sum(map(len, samples.values())) == sum(a.status == "succeeded" for a in await store.attempts_since(0))
    assert await store.spend_since(since) == pytest.approx(sum(a.charged_usd for a in window))


async def test_an_unknown_grouping_is_refused_with_the_accepted_values(store: Store) -> None:
    with pytest.raises(InputError, match="group_by.*model"):
        await store.aggregate(0, "colour")
