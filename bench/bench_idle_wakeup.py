"""What a task's two SQLite transactions cost right after the event loop sat idle, against warm.

At concurrency 1 the engine's settle transaction runs just after the provider's wait (20 ms in
`bench_vs_litellm.py`), when the process has been idle. This measures the same pair of per-task
transactions (the attempt's begin: INSERT attempts + UPDATE tasks; its settle: UPDATE attempts +
UPDATE tasks, each in BEGIN IMMEDIATE ... COMMIT) on a copy of a state database a real engine run
wrote (schema, indexes and rows as the server makes them), three ways, interleaved round by round:

- warm: the pairs back to back;
- cold caches: 30 MB of memory touched before each transaction (no idle time);
- after idle: `time.sleep(idle)` before each transaction (what a call's wait does).

Printed: microseconds per pair (both transactions), min and median per way over `--rounds`, and
the ratio after-idle / warm. On this 2-core VM the after-idle pair costs several times the warm
one: most of the engine's SQL time per task at concurrency 1 is the machine waking up, not the
statements' own work.

    python bench/bench_idle_wakeup.py [--pairs 200] [--rounds 3] [--idle 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_makespan import external_loopback, open_engine, run_group  # noqa: E402

from server.scheduler.types import GroupInput, TaskInput  # noqa: E402

_SCRATCH = bytearray(30_000_000)


def _touch_memory() -> None:
    for offset in range(0, len(_SCRATCH), 4096):
        _SCRATCH[offset] = (_SCRATCH[offset] + 1) & 255


async def _engine_database(tmp: Path, url: str) -> Path:
    """A state database as a real engine run leaves it (60 tasks), checkpointed, copied out."""
    async with open_engine(tmp / "engine", url + "/v1", concurrency=1) as engine:
        group = GroupInput(tasks=tuple(TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}",
                                                 key=f"t{i}") for i in range(60)), name="seed", max_concurrent=1)
        await run_group(engine, group)
        source = engine.store._backend.path  # type: ignore[union-attr]
    copy = tmp / "copy.db"
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(source, copy)
    return copy


def _pairs(db: Path, pairs: int, before: Callable[[], None]) -> float:
    """Microseconds per begin + settle pair, `before` run (untimed) ahead of each transaction."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    tasks = conn.execute("SELECT id, group_id FROM tasks").fetchall()
    spent = 0.0
    for index in range(pairs):
        task_id, group_id = tasks[index % len(tasks)]
        before()
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        attempt = conn.execute(
            "INSERT INTO attempts (task_id, group_id, owner, model_id, provider, variant, paid, status, reserved_usd,"
            " estimate_usd, day, started_at) VALUES (?, ?, 'bench', 'loopa/fast', 'loopa', 'speed', 0, 'running', 0,"
            " 0, '2026-11-30', ?) RETURNING id", (task_id, group_id, time.time())).fetchone()[0]
        conn.execute("UPDATE tasks SET status = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                     (time.time(), task_id))
        conn.execute("COMMIT")
        spent += time.perf_counter() - start
        before()
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE attempts SET status = 'succeeded', cost_usd = 0, charged_usd = 0, input_tokens = 12,"
                     " output_tokens = 40, finished_at = ? WHERE id = ?", (time.time(), attempt))
        conn.execute("UPDATE tasks SET status = 'succeeded', input_tokens = input_tokens + 12, output_tokens ="
                     " output_tokens + 40, finished_at = ?, updated_at = ? WHERE id = ?",
                     (time.time(), time.time(), task_id))
        conn.execute("COMMIT")
        spent += time.perf_counter() - start
    conn.close()
    return spent * 1e6 / pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=0.02, help="seconds idle before each transaction")
    args = parser.parse_args()
    start_load = os.getloadavg()[0]
    ways: dict[str, Callable[[], None]] = {
        "warm": lambda: None, "cold caches": _touch_memory, "after idle": lambda: time.sleep(args.idle)}
    figures: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp, external_loopback("--latency", "0") as url:
        db = asyncio.run(_engine_database(Path(tmp), url))
        for _ in range(args.rounds):
            for name, before in ways.items():
                copy = Path(tmp) / f"{name}.db"
                shutil.copy(db, copy)
                figures[name].append(_pairs(copy, args.pairs, before))
    print(f"begin + settle transactions per task, us per pair, min/median of {args.rounds} rounds of {args.pairs}; "
          f"idle {args.idle * 1000:.0f} ms; load average {start_load:.2f} -> {os.getloadavg()[0]:.2f}")
    for name, values in figures.items():
        print(f"  {name:12} {min(values):8.1f} / {statistics.median(values):8.1f}")
    ratio = [idle / warm for idle, warm in zip(figures["after idle"], figures["warm"], strict=True)]
    print(f"after idle / warm, round by round: min {min(ratio):.1f}x, median {statistics.median(ratio):.1f}x")


if __name__ == "__main__":
    main()
