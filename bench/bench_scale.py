"""Flat from 100 to 10,000 tasks: throughput, memory and the status reply at each size.

Each size runs in a fresh process (so its RSS is its own): a real engine (SQLite store,
registry, router, httpx) submits N independent tasks against the loopback provider (its own
process, answering at once) at concurrency 64 and waits for the end. It reports tasks/s from
submit to the group's end, the peak RSS, and the `get_parallel_group_status` reply as the tool
builds it (structured content plus its short text), its size and the time to build it.

Targets (issue 12): tasks/s at 10k >= 0.9x of 1k; RSS at 10k <= 200 MB; status reply
<= 100 KB and <= 100 ms at 10k.

    python bench/bench_scale.py [--sizes 100,1000,10000] [--runs 3] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from bench_makespan import external_loopback  # noqa: E402

from server.scheduler.status import group_view  # noqa: E402
from server.scheduler.types import GroupInput, TaskInput  # noqa: E402
from tests.scheduler.real import open_engine  # noqa: E402
from tools.get_parallel_group_status import shape, summary  # noqa: E402


async def one_size(size: int, url: str, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with open_engine(Path(tmp), url + "/v1", concurrency=concurrency) as engine:
            group = GroupInput(
                tasks=tuple(TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}", key=f"t{i}")
                            for i in range(size)),
                max_concurrent=concurrency,
            )
            start = time.perf_counter()
            result = await engine.submit(group)
            submitted = time.perf_counter() - start
            assert result.group_id is not None
            while engine.is_running(result.group_id):
                await engine.wait_for_change(result.group_id, 60)
            elapsed = time.perf_counter() - start
            record = await engine.store.get_group(result.group_id)
            times, sizes = [], []
            for _ in range(5):
                t0 = time.perf_counter()
                view = await group_view(engine.store, record, engine.budget_limits(None, None), max_result_chars=4000)
                reply = json.dumps(shape(view).model_dump(mode="json")) + summary(view)
                times.append(time.perf_counter() - t0)
                sizes.append(len(reply.encode()))
            succeeded = view.counts.get("succeeded", 0)
    return {
        "size": size, "tasks_per_s": size / elapsed, "submit_s": submitted, "succeeded": succeeded,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status_kb": max(sizes) / 1024, "status_ms": statistics.median(times) * 1000,
    }


def run_child(size: int, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - this script, fixed arguments, no shell
        [sys.executable, __file__, "--one", str(size), "--concurrency", str(concurrency)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        with external_loopback() as url:
            print(json.dumps(asyncio.run(one_size(args.one, url, args.concurrency))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, list[dict[str, Any]]] = {s: [] for s in sizes}
    for run in range(args.runs):
        for size in sizes:
            results[size].append(run_child(size, args.concurrency))
            print(f"run {run + 1} {results[size][-1]}", flush=True)
    for size in sizes:
        rows = results[size]

        def fig(name: str, rows: list[dict[str, Any]] = rows) -> str:
            values = [r[name] for r in rows]
            return f"{name} min {min(values):.1f} median {statistics.median(values):.1f} max {max(values):.1f}"

        print(f"{size:>6} tasks: {fig('tasks_per_s')}; {fig('rss_mb')}; {fig('status_kb')}; {fig('status_ms')}")
    if 1000 in results and 10000 in results:
        ratio = [b["tasks_per_s"] / a["tasks_per_s"] for a, b in zip(results[1000], results[10000], strict=True)]
        print(f"tasks/s at 10k / at 1k (same run): min {min(ratio):.2f} median {statistics.median(ratio):.2f}"
              " (target >= 0.9)")


if __name__ == "__main__":
    main()
