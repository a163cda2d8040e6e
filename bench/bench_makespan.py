"""Makespan of a 200-task DAG at concurrency 16 against the loopback provider, versus the ideal.

Every call takes the same fixed provider latency L. The ideal lower bound is
max(critical path, total work / concurrency) with each task costing exactly L; the figure is
the measured wall time (submit -> group finished, every state change persisted in SQLite)
divided by that bound. Target: at most 1.05.

    python bench/bench_makespan.py [--tasks 200] [--concurrency 16] [--latency 0.5] [--seed 7]

It also prints the mean call time the client observed (latency + HTTP/SSE transport on a
2-core machine) and the ratio against a bound computed with that figure instead of L: the
part of the gap that is the scheduler's own (queueing, dependency hand-over, SQLite).

The loopback provider runs in its own process (as a real provider would), so its work does
not compete with the engine's for this process's GIL. `open_engine` (a real engine: real
store, registry, router, HTTP client) and `external_loopback` are shared by the other
scheduler benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from server.backends.registry import ProviderRegistry  # noqa: E402
from server.catalog import load_catalog  # noqa: E402
from server.routing.router import Router  # noqa: E402
from server.scheduler.engine import Engine, EngineConfig  # noqa: E402
from server.scheduler.runner import RunnerConfig  # noqa: E402
from server.scheduler.types import GroupInput, TaskInput  # noqa: E402
from server.settings import load_settings  # noqa: E402
from server.store import Store  # noqa: E402
from tests.scheduler.overlay import loop_env, write_overlay  # noqa: E402

logging.getLogger("httpx").setLevel(logging.WARNING)


@contextmanager
def external_loopback(*args: str) -> Iterator[str]:
    """Run `tests.support.loopback_provider` in another process; yields its base URL."""
    proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments, no shell
        [sys.executable, "-m", "tests.support.loopback_provider", *args],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LOOPBACK_URL "):
            raise RuntimeError(f"loopback provider did not start: {line!r}")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(10)


@asynccontextmanager
async def open_engine(
    tmp: Path, base_url: str, *, concurrency: int, collect_timings: bool = False, rate_window_s: float = 60.0,
    provider_extra: str = "",
) -> AsyncIterator[Engine]:
    env = loop_env(tmp, base_url)
    write_overlay(tmp / "manifests", provider_extra=provider_extra)
    settings = load_settings(env, max_concurrent=concurrency, max_tasks_per_group=10_000)
    catalog = load_catalog(settings.manifests_overlay)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=128)) as http:
        store = await Store.open(settings.db_path)
        registry = ProviderRegistry(catalog, settings, http)
        router = Router(catalog, availability=registry.availability)
        engine = Engine(
            settings=settings, catalog=catalog, store=store, providers=registry, router=router,
            config=EngineConfig(max_concurrent=concurrency, rate_window_s=rate_window_s,
                                runner=RunnerConfig(collect_timings=collect_timings)),
        )
        try:
            yield engine
        finally:
            await engine.aclose()
            await store.close()


async def run_group(engine: Engine, group: GroupInput) -> tuple[str, float]:
    """Submit, wait for the end; (group id, seconds from submit to finish)."""
    start = time.perf_counter()
    result = await engine.submit(group)
    assert result.group_id is not None
    while engine.is_running(result.group_id):
        await engine.wait_for_change(result.group_id, 60)
    return result.group_id, time.perf_counter() - start


def random_dag(count: int, seed: int) -> dict[str, list[str]]:
    """A layered random DAG: each task depends on 0-3 tasks among the previous ~30."""
    rng = random.Random(seed)
    deps: dict[str, list[str]] = {}
    for index in range(count):
        window = list(range(max(0, index - 30), index))
        k = min(len(window), rng.choice((0, 1, 1, 2, 2, 3)))
        deps[f"t{index}"] = [f"t{j}" for j in rng.sample(window, k)]
    return deps


def ideal(deps: dict[str, list[str]], latency: float, concurrency: int) -> tuple[float, float]:
    finish: dict[str, float] = {}
    for key, parents in deps.items():  # keys are in a topological order
        finish[key] = max((finish[p] for p in parents), default=0.0) + latency
    return max(finish.values()), len(deps) * latency / concurrency


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    deps = random_dag(args.tasks, args.seed)
    critical, work = ideal(deps, args.latency, args.concurrency)
    bound = max(critical, work)
    group = GroupInput(
        tasks=tuple(
            TaskInput(agent_type="tcoder_speed", description=f"Write function {key}", key=key,
                      depends_on=tuple(parents))
            for key, parents in deps.items()
        ),
        max_concurrent=args.concurrency,
    )
    with tempfile.TemporaryDirectory() as tmp, external_loopback("--latency", str(args.latency)) as url:
        async with open_engine(Path(tmp), url + "/v1", concurrency=args.concurrency, collect_timings=True) as engine:
            group_id, makespan = await run_group(engine, group)
            statuses = {t.status for t in await engine.store.list_tasks(group_id)}
            assert engine.timings is not None
            observed = sum(t.call_seconds for t in engine.timings.values()) / len(engine.timings)
    critical_obs, work_obs = ideal(deps, observed, args.concurrency)
    return {"makespan": makespan, "critical": critical, "work": work, "bound": bound, "statuses": statuses,
            "observed": observed, "bound_observed": max(critical_obs, work_obs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    print(f"tasks={args.tasks} concurrency={args.concurrency} latency={args.latency * 1000:.0f} ms "
          f"statuses={sorted(out['statuses'])}")
    print(f"critical path {out['critical']:.2f} s, work/concurrency {out['work']:.2f} s, "
          f"ideal bound {out['bound']:.2f} s")
    print(f"makespan {out['makespan']:.2f} s -> ratio {out['makespan'] / out['bound']:.3f} (target <= 1.05)")
    print(f"mean observed call {out['observed'] * 1000:.1f} ms -> scheduler-only ratio "
          f"{out['makespan'] / out['bound_observed']:.3f}")


if __name__ == "__main__":
    main()
