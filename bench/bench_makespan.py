"""Makespan of a 200-task DAG at concurrency 16 against the loopback provider, versus plain httpx.

Every call takes the same fixed provider latency L. The baseline, in the same run against the
same provider process, sends the same DAG with plain httpx (a semaphore for the concurrency,
an event per task for the dependencies, one streamed answer read to its end per task); our
figure is the engine's makespan (submit -> group finished, every state change persisted in
SQLite, routing, gate, retries armed). Reported per latency: min and median of `--runs` runs
of each, and their ratio. Target: ours / plain <= 1.05 at 0.1 s and 0.5 s.

    python bench/bench_makespan.py [--tasks 200] [--concurrency 16] [--latencies 0.1,0.5] [--runs 3]

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
import statistics
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

from server.analysis.tokens import count_tokens  # noqa: E402
from server.backends.http_client import provider_http_client  # noqa: E402
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
    async with provider_http_client(256, 128) as http:
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


async def plain_httpx(url: str, deps: dict[str, list[str]], concurrency: int) -> float:
    """The same DAG sent with plain httpx: each task streams one answer once its dependencies
    have theirs, at most `concurrency` at once; seconds from the start to the last answer."""
    gate = asyncio.Semaphore(concurrency)
    done: dict[str, asyncio.Event] = {key: asyncio.Event() for key in deps}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=128)) as http:

        async def one(key: str) -> None:
            for parent in deps[key]:
                await done[parent].wait()
            async with gate:
                body = {"model": "fast-a", "stream": True, "max_tokens": 256,
                        "messages": [{"role": "user", "content": f"Write function {key}"}]}
                async with http.stream("POST", url + "/v1/chat/completions", json=body,
                                       headers={"authorization": "Bearer test-key-a"}) as response:
                    async for _ in response.aiter_bytes():
                        pass
            done[key].set()

        start = time.perf_counter()
        await asyncio.gather(*(one(key) for key in deps))
        return time.perf_counter() - start


async def one_latency(args: argparse.Namespace, latency: float) -> dict[str, Any]:
    deps = random_dag(args.tasks, args.seed)
    critical, work = ideal(deps, latency, args.concurrency)
    group = GroupInput(
        tasks=tuple(
            TaskInput(agent_type="tcoder_speed", description=f"Write function {key}", key=key,
                      depends_on=tuple(parents))
            for key, parents in deps.items()
        ),
        max_concurrent=args.concurrency,
    )
    ours, plain, statuses = [], [], set()
    count_tokens("warm")  # the server warms its tokenizer after start; not part of a group's makespan
    with external_loopback("--latency", str(latency)) as url:
        for _ in range(args.runs):
            plain.append(await plain_httpx(url, deps, args.concurrency))
            with tempfile.TemporaryDirectory() as tmp:
                async with open_engine(Path(tmp), url + "/v1", concurrency=args.concurrency) as engine:
                    group_id, makespan = await run_group(engine, group)
                    statuses |= {t.status for t in await engine.store.list_tasks(group_id)}
            ours.append(makespan)
    return {"ours": ours, "plain": plain, "bound": max(critical, work), "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latencies", default="0.1,0.5", help="provider latencies to measure, seconds")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for latency in (float(x) for x in args.latencies.split(",")):
        out = asyncio.run(one_latency(args, latency))
        ratios = [o / p for o, p in zip(out["ours"], out["plain"], strict=True)]
        print(f"tasks={args.tasks} concurrency={args.concurrency} latency={latency * 1000:.0f} ms "
              f"statuses={sorted(out['statuses'])} ideal bound {out['bound']:.2f} s")
        print(f"  ours  makespan min {min(out['ours']):.2f} median {statistics.median(out['ours']):.2f} s")
        print(f"  httpx makespan min {min(out['plain']):.2f} median {statistics.median(out['plain']):.2f} s")
        print(f"  ours / plain httpx (same run, same DAG): min {min(ratios):.3f} median "
              f"{statistics.median(ratios):.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
