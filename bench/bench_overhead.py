"""The scheduler's own cost per task, provider time excluded, with every state change persisted.

A chain of N tasks (each depends on the previous, so exactly one is in flight) runs against the
loopback provider. For each task, overhead = time between the previous task's end and this
one's end, minus the time spent inside the backend call (HTTP to the loopback and its answer).
What remains is ours: the dependency hand-over, the queue, the gate, the task's read at
dispatch, two SQLite transactions (the reservation with the task's move to `running`; the
outcome with the call's settlement and the next task's `queued`; with one call in flight all
three run on the event loop's thread, see `server.store.sqlite_backend`), prompt building and
token counting. Targets: p50 < 1 ms, p99 < 5 ms. `bench_vs_litellm.py` measures the same cost from
outside, beside plain httpx and LiteLLM's Router, in one run.

    python bench/bench_overhead.py [--tasks 400]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import open_engine, run_group  # noqa: E402

from server.scheduler.types import GroupInput, TaskInput  # noqa: E402
from tests.support.loopback_provider import LoopbackProvider  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(tasks: int) -> list[float]:
    group = GroupInput(tasks=tuple(
        TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}", key=f"t{i}",
                  depends_on=(f"t{i - 1}",) if i else ())
        for i in range(tasks)
    ))
    with tempfile.TemporaryDirectory() as tmp, LoopbackProvider(record=False) as lp:
        async with open_engine(Path(tmp), lp.openai_url, concurrency=4, collect_timings=True) as engine:
            await run_group(engine, group)  # warm-up: connections, statement cache, tokenizer
            assert engine.timings is not None
            engine.timings.clear()
            await run_group(engine, GroupInput(tasks=group.tasks, name="measured"))
            timings = sorted(engine.timings.values(), key=lambda t: t.done_at)
    overheads = []
    for previous, current in zip(timings, timings[1:], strict=False):
        overheads.append((current.done_at - previous.done_at - current.call_seconds) * 1000.0)
    return overheads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=400)
    args = parser.parse_args()
    overheads = asyncio.run(main_async(args.tasks))
    print(f"tasks={len(overheads)} (chain, one call in flight, state persisted at every step)")
    print(f"overhead per task: p50 {statistics.median(overheads):.3f} ms, p90 {_pct(overheads, 0.9):.3f} ms, "
          f"p99 {_pct(overheads, 0.99):.3f} ms, max {max(overheads):.3f} ms (targets p50 < 1, p99 < 5)")


if __name__ == "__main__":
    main()
