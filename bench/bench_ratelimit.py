"""Against a provider enforcing N requests per minute: achieved rate and 429s answered.

The loopback provider (its own process) enforces a sliding-window limit and sends
`x-ratelimit-*` headers; the manifests give the provider no limit, so the engine learns it
from those headers. Time is compressed (the "minute" is `--window` seconds, for the provider
and the engine alike) so the run is short. The achieved rate counts the requests admitted
within the first `--windows` whole windows after the first request; target >= 0.95 x N with
no 429 after the first.

    python bench/bench_ratelimit.py [--rpm 600] [--window 6] [--windows 4] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import external_loopback, open_engine  # noqa: E402

from server.scheduler.types import GroupInput, TaskInput  # noqa: E402


def _stats(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url + "/_loopback/stats", timeout=5) as response:  # noqa: S310 - loopback
        data: dict[str, object] = json.loads(response.read())
    return data


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    per_window = args.rpm * args.window / 60.0
    total = int(per_window * (args.windows + 1))
    group = GroupInput(tasks=tuple(
        TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}", key=f"t{i}") for i in range(total)
    ), max_concurrent=args.concurrency)
    loop_args = ("--latency", str(args.latency), "--rpm", str(args.rpm), "--rpm-window", str(args.window))
    with tempfile.TemporaryDirectory() as tmp, external_loopback(*loop_args) as url:
        async with open_engine(Path(tmp), url + "/v1", concurrency=args.concurrency, collect_timings=True,
                               rate_window_s=args.window) as engine:
            start = time.perf_counter()
            result = await engine.submit(group)
            assert result.group_id is not None
            while engine.is_running(result.group_id):
                await engine.wait_for_change(result.group_id, 60)
            elapsed = time.perf_counter() - start
            attempts = await engine.store.list_attempts(group_id=result.group_id)
        stats = _stats(url)
    ok = sorted(a.started_at for a in attempts if a.status == "succeeded")
    first = min(a.started_at for a in attempts)
    horizon = first + args.windows * args.window
    admitted = sum(1 for t in ok if t < horizon)
    statuses = stats["statuses"]
    assert isinstance(statuses, dict)
    return {
        "tasks": total, "elapsed": elapsed, "admitted": admitted,
        "achieved_per_min": admitted / (args.windows * args.window) * 60.0,
        "count_429": float(statuses.get("429", 0)), "failed": float(sum(1 for a in attempts if a.status != "succeeded")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rpm", type=float, default=600)
    parser.add_argument("--window", type=float, default=6.0, help="seconds standing for one minute")
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    print(f"limit N={args.rpm:g}/min (a minute = {args.window:g} s), {out['tasks']:.0f} tasks, "
          f"concurrency {args.concurrency}, run {out['elapsed']:.1f} s")
    print(f"achieved {out['achieved_per_min']:.1f}/min over {args.windows} windows = "
          f"{out['achieved_per_min'] / args.rpm:.3f} x N (target >= 0.95); 429 answered: {out['count_429']:.0f} "
          f"(target <= 1); failed attempts: {out['failed']:.0f}")


if __name__ == "__main__":
    main()
