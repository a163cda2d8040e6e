"""A 429 storm: 120 tasks against a provider that misbehaves like real ones under load.

The loopback provider (its own process) answers 10% 503, 5% hangs, 5% cut streams and 5%
garbage bodies, and a 429 with Retry-After once a model passes N requests per minute; both
configured providers (`loopa`, `loopb`, five models) point at it. Each run submits 120 tasks
(20 s timeout each) and waits for the group's end. The baseline, in the same run, is the same
group against the same faults without the per-model limit.

Targets (issue 11): all terminal, >= 110 succeeded, within 60 s, every configured provider
used, 0 tasks stuck `queued` or `running`.

    python bench/bench_storm.py [--runs 3] [--tasks 120] [--model-rpm 60] [--window 10]

`--window` is the length of a "minute" for the provider and the engine alike: by default time
is compressed six-fold, so 60 requests per "minute" is 10 per model every 10 s and the run
needs ~25 s of the provider's capacity after the first window's burst (printed as the bound). `--window 60 --model-rpm 20` is
the issue's setting in real time; five models cannot serve ~175 calls within 60 s at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import external_loopback  # noqa: E402

from server.scheduler.dag import TERMINAL  # noqa: E402
from server.scheduler.runner import RunnerConfig  # noqa: E402
from server.scheduler.types import GroupInput, TaskInput  # noqa: E402
from tests.scheduler.overlay import MODELS  # noqa: E402
from tests.scheduler.real import open_engine  # noqa: E402

MODEL_NAMES = ",".join(name for _provider, name, *_rest in MODELS.values())


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_loopback/stats", timeout=5) as response:  # noqa: S310 - loopback
        data: dict[str, Any] = json.loads(response.read())
    return data


async def one_run(args: argparse.Namespace, *, limited: bool) -> dict[str, Any]:
    loopback = ["--latency", str(args.latency), "--storm", "--seed", str(args.seed), "--rpm-window", str(args.window)]
    if limited:
        loopback += ["--models", MODEL_NAMES, "--model-rpm", str(args.model_rpm)]
    runner = RunnerConfig(stall_timeout_s=args.stall)
    with tempfile.TemporaryDirectory() as tmp, external_loopback(*loopback) as url:
        async with open_engine(Path(tmp), url + "/v1", concurrency=args.concurrency, runner=runner,
                               rate_window_s=args.window) as engine:
            group = GroupInput(tasks=tuple(
                TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}", key=f"t{i}",
                          timeout_s=args.timeout)
                for i in range(args.tasks)
            ))
            start = time.perf_counter()
            result = await engine.submit(group)
            assert result.group_id is not None
            try:
                async with asyncio.timeout(args.give_up):
                    while engine.is_running(result.group_id):
                        await engine.wait_for_change(result.group_id, 10)
            except TimeoutError:
                pass
            elapsed = time.perf_counter() - start
            tasks = await engine.store.list_tasks(result.group_id)
            attempts = await engine.store.list_attempts(group_id=result.group_id)
        stats = _stats(url)
    statuses = [t.status for t in tasks]
    return {
        "seconds": elapsed,
        "terminal": sum(s in TERMINAL for s in statuses),
        "succeeded": statuses.count("succeeded"),
        "stuck": sum(s in ("queued", "running") for s in statuses),
        "providers": sorted({a.provider for a in attempts}),
        "calls": len(attempts),
        "429s": int(stats["statuses"].get("429", 0)),
    }


def _summary(name: str, runs: list[dict[str, Any]]) -> str:
    seconds = [r["seconds"] for r in runs]
    return (f"{name}: seconds min {min(seconds):.1f} median {statistics.median(seconds):.1f}; "
            f"succeeded min {min(r['succeeded'] for r in runs)}; terminal min {min(r['terminal'] for r in runs)}; "
            f"stuck max {max(r['stuck'] for r in runs)}; 429s median {statistics.median(r['429s'] for r in runs):.0f}; "
            f"providers {sorted({p for r in runs for p in r['providers']})}")


async def main_async(args: argparse.Namespace) -> int:
    storm, calm = [], []
    for index in range(args.runs):
        storm.append(await one_run(args, limited=True))
        print(f"run {index + 1} storm: {storm[-1]}", flush=True)
        calm.append(await one_run(args, limited=False))
        print(f"run {index + 1} baseline (no 429s): {calm[-1]}", flush=True)
    print(_summary("storm", storm))
    print(_summary("baseline", calm))
    ratio = statistics.median(r["seconds"] for r in storm) / statistics.median(r["seconds"] for r in calm)
    print(f"storm / baseline time (median): {ratio:.2f}x")
    # No scheduler beats the provider's capacity: the calls the work needs (the baseline's), less
    # the first window's burst, at N/min on each of the five models the chains use.
    models = 5
    burst = models * int(args.model_rpm * args.window / 60.0)
    calls = statistics.median(r["calls"] for r in calm)
    capacity = max(0.0, calls - burst) / (models * args.model_rpm / 60.0)
    print(f"provider capacity bound: {capacity:.1f}s; storm median / bound: "
          f"{statistics.median(r['seconds'] for r in storm) / max(capacity, 1e-9):.2f}x")
    ok = all(
        r["terminal"] == args.tasks and r["succeeded"] >= args.tasks - 10 and r["seconds"] <= 60
        and r["stuck"] == 0 and r["providers"] == ["loopa", "loopb"]
        for r in storm
    )
    print("targets (all terminal, >= tasks-10 succeeded, <= 60 s, both providers, 0 stuck):",
          "met" if ok else "NOT met")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=120)
    parser.add_argument("--timeout", type=float, default=20.0, help="each task's timeout (s)")
    parser.add_argument("--model-rpm", type=float, default=60.0, help="requests per minute per model")
    parser.add_argument("--window", type=float, default=10.0, help="length of a 'minute' (s)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--stall", type=float, default=2.0, help="give up a silent call after this (s)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--give-up", type=float, default=180.0, help="stop waiting after this (s)")
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
