"""Benchmark of the budget bound: four processes, one database, a provider charging 5x the catalogue.

    python bench/bench_budget.py [--runs 5] [--concurrency 4] [--factor 5] [--daily 0.2] [--pg URL]

Each run starts four worker processes on a fresh SQLite file, each with `--concurrency` calls in
flight against the loopback provider, whose replies report a cost `--factor` times the catalogue
estimate; every worker spends until the ledger refuses it. Prints the overspend (spend past the
daily limit) in units of one call's estimate — catalogue estimate and real cost — min and median
over the runs, next to the baseline measured in the same run: the same load where every call goes
to a model the ledger has never seen (what the ledger did before it learned real charges).
With `--pg URL` every run uses a fresh schema of that PostgreSQL database instead of a SQLite file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.store.budget_workers import Spend, spend_until_refused  # noqa: E402
from tests.support.loopback_provider import LoopbackProvider, Reply  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")
ESTIMATE = 0.001


_SCHEMAS: list[str] = []


def _drop_schemas(pg: str | None) -> None:
    if not pg or not _SCHEMAS:
        return
    import psycopg

    with psycopg.connect(pg, autocommit=True) as conn:
        for schema in _SCHEMAS:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _fresh(tmp: str, name: str, pg: str | None) -> str:
    """A new database: a SQLite file under `tmp`, or a fresh schema of the PostgreSQL at `pg`."""
    if not pg:
        return str(Path(tmp) / f"{name}.db")
    import uuid

    import psycopg

    schema = f"bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    _SCHEMAS.append(schema)
    return f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"


def _spent(db: str) -> tuple[float, int]:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT sum(charged_usd), count(*) FROM attempts").fetchone()
    else:
        with sqlite3.connect(db) as sconn:
            row = sconn.execute("SELECT sum(charged_usd), count(*) FROM attempts").fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


def _run(db: str, url: str, args: argparse.Namespace, learning: bool) -> tuple[float, int]:
    job = Spend(str(db), url, "mid-a", ESTIMATE, ESTIMATE * 4, args.daily, concurrency=args.concurrency,
                learning=learning, max_calls=10_000)
    procs = [SPAWN.Process(target=spend_until_refused, args=(job, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit(f"a worker failed: {[p.exitcode for p in procs]}")
    spent, calls = _spent(db)
    return spent - args.daily, calls


def _runs(url: str, tmp: str, args: argparse.Namespace) -> Iterator[tuple[float, float]]:
    """(learned, baseline) overspend of each run, printed as it ends."""
    for run in range(args.runs):
        over, calls = _run(_fresh(tmp, f"learned-{run}", args.pg), url, args, True)
        base, base_calls = _run(_fresh(tmp, f"blind-{run}", args.pg), url, args, False)
        print(f"run {run + 1}: learned overspend ${over:+.4f} ({calls} calls), "
              f"baseline ${base:+.4f} ({base_calls} calls)", flush=True)
        yield over, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight per process")
    parser.add_argument("--factor", type=float, default=5.0, help="real price / catalogue price")
    parser.add_argument("--daily", type=float, default=0.2, help="the shared daily budget (USD)")
    parser.add_argument("--pg", help="run on this PostgreSQL (a fresh schema per run) instead of SQLite files")
    args = parser.parse_args()
    real = ESTIMATE * args.factor
    learned: list[float] = []
    blind: list[float] = []
    with LoopbackProvider(latency=0.02, record=False) as lp, tempfile.TemporaryDirectory() as tmp:
        lp.set_default(Reply("ok", cost=real))
        t0 = time.perf_counter()
        try:
            runs = list(_runs(lp.openai_url, tmp, args))
        finally:
            _drop_schemas(args.pg)
        for over, base in runs:
            learned.append(over)
            blind.append(base)
        elapsed = time.perf_counter() - t0

    def line(name: str, values: list[float]) -> str:
        lo, med = min(values), statistics.median(values)
        hi = max(values)
        return (f"{name:9} overspend min {lo / ESTIMATE:+.2f} / median {med / ESTIMATE:+.2f} / max {hi / ESTIMATE:+.2f}"
                f" catalogue estimates  (max {hi / real:+.2f} real calls)")

    print(f"{'PostgreSQL' if args.pg else 'SQLite'}: 4 processes x {args.concurrency} calls in flight,"
          f" provider price {args.factor:g}x the catalogue, "
          f"daily ${args.daily:g}, {args.runs} runs in {elapsed:.1f} s")
    print(line("learned", learned))
    print(line("baseline", blind))
    held = "holds" if max(learned) <= ESTIMATE + 1e-9 else "BROKEN"
    learned_med = statistics.median(learned)
    ratio = f"{statistics.median(blind) / learned_med:.1f}x" if learned_med > 1e-9 else "n/a (learned median is 0)"
    print(f"bound (<= 1 estimate past the limit): {held}; baseline / learned median overspend: {ratio}")


if __name__ == "__main__":
    main()
