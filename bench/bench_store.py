"""Benchmark of the SQLite store: per-task persistence cost, and report queries on a month of data.

    python bench/bench_store.py [--tasks 2000] [--attempts 10000] [--dir DIR] [--pg URL] [--runs 3]

Prints:
1. the per-task cost of persisting a task's life with every state change committed
   (queued -> running, begin_attempt with daily/weekly/monthly budgets checked, settle_attempt,
   running -> succeeded with a 2 KB result): p50 / p99, sequentially and with 16 tasks in
   flight, next to a plain one-row aiosqlite INSERT measured in the same run (the ratio);
2. the time of the report queries and the database size for a simulated month of attempts;
3. with `--pg URL` (default `$PWM_TEST_PG_URL`): the per-task cost on PostgreSQL beside SQLite,
   measured in the same run (each backend `--runs` times, min and median of the p50s), as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

from server.store import BudgetLimits, NewGroup, NewTask, Store

LIMITS = BudgetLimits(daily=1e6, weekly=1e6, monthly=1e6)
RESULT = "x" * 2048
MODELS = [f"model-{i}" for i in range(12)]
AGENTS = ["aria_coder_backend", "aria_coder_frontend", "aria_coder_api", "aria_architect", "aria_qa"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _tasks(n: int, agent: str = "aria_coder_backend") -> list[NewTask]:
    return [NewTask(key=f"t{i + 1}", position=i, agent_type=f"{agent}_speed", agent=agent, variant="speed",
                    agent_name=f"{agent}_speed", description="bench task", plan_json='{"chain": ["m"]}')
            for i in range(n)]


def _group(name: str, policy: str = "code") -> NewGroup:
    return NewGroup(name=name, strategy="balanced", policy=policy, max_concurrent=16)


async def _life(store: Store, task_id: str, group_id: str) -> float:
    t0 = time.perf_counter()
    await store.transition_task(task_id, ["queued"], "running")
    attempt = await store.begin_attempt(task_id, group_id, "model-1", "loopback", "speed", 0.001, True, LIMITS)
    await store.settle_attempt(attempt.id, status="succeeded", input_tokens=500, output_tokens=200,
                               cost=0.0009, cost_source="catalog", latency_ms=40.0, first_token_ms=8.0)
    await store.transition_task(task_id, ["running"], "succeeded", result=RESULT)
    return (time.perf_counter() - t0) * 1000


async def _queued_group(store: Store, name: str, n: int) -> tuple[str, list[str], float]:
    t0 = time.perf_counter()
    group = await store.create_group(_group(name), _tasks(n))
    created_ms = (time.perf_counter() - t0) * 1000
    ids = await store.transition_group_tasks(group.id, ["pending"], "queued")
    return group.id, ids, created_ms


async def bench_overhead(db: Path, n: int) -> None:
    store = await Store.open(db)
    try:
        group_id, ids, created_ms = await _queued_group(store, "seq", n)
        sequential = [await _life(store, tid, group_id) for tid in ids]

        group_id, ids, _ = await _queued_group(store, "conc", n)
        pending = iter(ids)
        concurrent: list[float] = []

        async def worker() -> None:
            for tid in pending:
                concurrent.append(await _life(store, tid, group_id))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        wall_ms = (time.perf_counter() - t0) * 1000
    finally:
        await store.close()

    async with aiosqlite.connect(db, isolation_level=None) as conn:
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("CREATE TABLE IF NOT EXISTS baseline (id INTEGER PRIMARY KEY, v TEXT)")
        baseline = []
        for i in range(n):
            t0 = time.perf_counter()
            await conn.execute("INSERT INTO baseline (v) VALUES (?)", (str(i),))
            baseline.append((time.perf_counter() - t0) * 1000)

    b50, b99 = statistics.median(baseline), _pct(baseline, 0.99)
    s50, s99 = statistics.median(sequential), _pct(sequential, 0.99)
    c50, c99 = statistics.median(concurrent), _pct(concurrent, 0.99)
    print(f"create_group with {n} tasks (one transaction): {created_ms:.1f} ms")
    print(f"per-task persistence, {n} tasks, 4 commits each (running, begin_attempt, settle, succeeded):")
    print(f"  sequential      p50 {s50:.3f} ms   p99 {s99:.3f} ms   p99.9 {_pct(sequential, 0.999):.3f} ms"
          f"   max {max(sequential):.3f} ms")
    print(f"  16 in flight    p50 {c50:.3f} ms   p99 {c99:.3f} ms   (latency incl. queueing on the one"
          f" connection); throughput {n / wall_ms * 1000:.0f} tasks/s = {wall_ms / n:.3f} ms/task")
    print(f"  baseline: plain aiosqlite INSERT (1 row, autocommit)  p50 {b50:.3f} ms   p99 {b99:.3f} ms")
    print(f"  ratio per task / baseline INSERT: p50 {s50 / b50:.1f}x   p99 {s99 / b99:.1f}x")


async def bench_month(db: Path, attempts: int) -> None:
    rng = random.Random(1)
    store = await Store.open(db)
    start = time.time() - 30 * 86400
    try:
        t0 = time.perf_counter()
        made = 0
        g = 0
        while made < attempts:
            agent = rng.choice(AGENTS)
            group = await store.create_group(_group(f"month-{g}", rng.choice(["code", "ops", "normal"])),
                                             _tasks(25, agent))
            for task in await store.list_tasks(group.id):
                for _ in range(rng.choice([1, 1, 1, 2, 3])):
                    if made >= attempts:
                        break
                    ts = start + made * (30 * 86400 / attempts)
                    model = rng.choice(MODELS)
                    a = await store.begin_attempt(task.id, group.id, model, "prov", "speed", 0.002, True,
                                                  LIMITS, now=ts)
                    ok = rng.random() < 0.85
                    await store.settle_attempt(
                        a.id, status="succeeded" if ok else "failed", input_tokens=rng.randint(200, 8000),
                        output_tokens=rng.randint(50, 2000), cost=rng.uniform(0, 0.004) if ok else None,
                        cost_source="catalog", latency_ms=rng.uniform(200, 20000),
                        error_class=None if ok else rng.choice(["timeout", "rate_limited", "bad_response"]),
                        error_message=None if ok else "provider said no " * 4, now=ts + 5,
                    )
                    made += 1
            await store.finish_group(group.id, "succeeded")
            g += 1
        seeded_s = time.perf_counter() - t0

        timings: dict[str, float] = {}

        async def timed(label: str, coro_fn: Callable[[], Awaitable[object]]) -> None:
            t = time.perf_counter()
            await coro_fn()
            timings[label] = (time.perf_counter() - t) * 1000

        for by in ("model", "agent", "policy", "group", "day"):
            await timed(f"aggregate by {by}", functools.partial(store.aggregate, start - 1, by))
        await timed("latency samples by model", lambda: store.latency_samples(start - 1, "model"))
        await timed("budget status", lambda: store.budget_status(LIMITS))
        await timed("attempts_since (all rows)", lambda: store.attempts_since(start - 1))
        await timed("attempts_since one model", lambda: store.attempts_since(start - 1, model_id="model-3"))
        await store.checkpoint()
    finally:
        await store.close()
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    report = timings["aggregate by model"] + timings["latency samples by model"] + timings["budget status"]
    print(f"simulated month: {attempts} attempts in {g} groups (seeded through the store in {seeded_s:.1f} s)")
    for label, ms in timings.items():
        print(f"  {label:<28} {ms:7.1f} ms")
    print(f"  report (aggregate + latency samples + budget status): {report:.1f} ms  (target < 200 ms)")
    print(f"  database size after checkpoint: {size / 1e6:.2f} MB  (target < 20 MB)")


async def _sequential_p50(target: str | Path, n: int) -> float:
    store = await Store.open(target)
    try:
        group_id, ids, _ = await _queued_group(store, "seq", n)
        return statistics.median([await _life(store, tid, group_id) for tid in ids])
    finally:
        await store.close()


def bench_backends(tmp: Path, pg_url: str, n: int, runs: int) -> None:
    import uuid

    import psycopg

    sqlite_p50: list[float] = []
    pg_p50: list[float] = []
    for run in range(runs):
        sqlite_p50.append(asyncio.run(_sequential_p50(tmp / f"backend-{run}.db", n)))
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            joiner = "&" if "?" in pg_url else "?"
            pg_p50.append(asyncio.run(_sequential_p50(f"{pg_url}{joiner}options=-csearch_path%3D{schema}", n)))
        finally:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    s_min, s_med = min(sqlite_p50), statistics.median(sqlite_p50)
    p_min, p_med = min(pg_p50), statistics.median(pg_p50)
    print(f"per-task persistence by backend ({n} tasks sequential, 4 commits each, {runs} runs, p50 per run):")
    print(f"  SQLite       min {s_min:.3f} ms   median {s_med:.3f} ms")
    print(f"  PostgreSQL   min {p_min:.3f} ms   median {p_med:.3f} ms")
    print(f"  ratio PostgreSQL / SQLite: min {p_min / s_min:.2f}x   median {p_med / s_med:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases (default: a temp dir)")
    parser.add_argument("--pg", default=os.environ.get("PWM_TEST_PG_URL"),
                        help="a PostgreSQL URL to compare the per-task cost with (default $PWM_TEST_PG_URL)")
    parser.add_argument("--runs", type=int, default=3, help="runs per backend for the comparison")
    parser.add_argument("--only-backends", action="store_true", help="run only the backend comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if not args.only_backends:
            asyncio.run(bench_overhead(Path(tmp) / "overhead.db", args.tasks))
            asyncio.run(bench_month(Path(tmp) / "month.db", args.attempts))
        if args.pg:
            bench_backends(Path(tmp), args.pg, min(args.tasks, 1000), args.runs)
        else:
            print("PostgreSQL comparison skipped: pass --pg URL or set PWM_TEST_PG_URL")


if __name__ == "__main__":
    main()
