"""Report and dashboard-data speed on a simulated month of 10,000 attempts, and the database size.

    python bench/bench_report.py [--attempts 10000] [--days 30]

Seeds a fresh SQLite file through the store's own API (groups, tasks, begin/settle per attempt),
then times, over repeated runs: the 7- and 30-day reports (CLI / `get_cost_report` path) and the
dashboard's `/dashboard/data` document. Targets: each under 200 ms; the database under 20 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.dashboard.data import dashboard_data  # noqa: E402
from server.ops.report import render_report  # noqa: E402
from server.perf.service import PerfServices  # noqa: E402
from server.settings import load_settings  # noqa: E402
from server.store import Store  # noqa: E402
from tests.conftest import isolated_env  # noqa: E402
from tests.perf.catalog_fixture import write_catalog  # noqa: E402
from tests.perf.seed import seed, simulate  # noqa: E402


async def _time(label: str, fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    p50 = statistics.median(samples)
    print(f"{label:<34} p50 {p50:7.1f} ms   max {max(samples):7.1f} ms   (target < 200 ms)")
    return p50


async def main(attempts: int, days: float, runs: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="pwm-bench-report-"))
    settings = load_settings(isolated_env(tmp))
    catalog = write_catalog(tmp / "manifests")
    now = time.time()
    store = await Store.open(settings.db_path)
    t0 = time.perf_counter()
    await seed(store, catalog, simulate(catalog, attempts, end=now, days=days))
    print(f"seeded {attempts} attempts over {days:g} days in {time.perf_counter() - t0:.1f} s")
    await store.checkpoint()
    size = settings.db_path.stat().st_size
    services = PerfServices.create(settings, catalog, store)
    try:
        t0 = time.perf_counter()
        await services.refresh()
        print(f"tracker rebuild from SQLite            {(time.perf_counter() - t0) * 1000:7.1f} ms")
        worst = 0.0
        for label, group_by, window in (("report 7 days by model", "model", 7.0),
                                        ("report 30 days by model", "model", 30.0),
                                        ("report 30 days by day", "day", 30.0),
                                        ("report 30 days by agent", "agent", 30.0)):
            worst = max(worst, await _time(label, lambda g=group_by, w=window: services.report(w, g), runs))
        worst = max(worst, await _time("dashboard data (30 days)", lambda: dashboard_data(services, 30.0), runs))
        report = await services.report(7.0, "model")
        print()
        print(render_report(report))
        print()
        print(f"database size after {attempts} attempts: {size / 1e6:.2f} MB (target < 20 MB)")
        ok = worst < 200 and size < 20e6
        print("PASS" if ok else "MISS", f"(slowest p50 {worst:.1f} ms)")
        return 0 if ok else 1
    finally:
        await services.aclose()
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.attempts, args.days, args.runs)))
