"""The report as callers ask for it: read the window, add the budget status, build the figures.

Shared by the CLI (`parallel-work-manager report`), the MCP tool (`get_cost_report`), the MCP
resources and the dashboard, so they cannot disagree. Budget status comes from the store's own
ledger (`Store.budget_status`), never recomputed here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from server.catalog.schema import Catalog
from server.errors import PWMError
from server.perf.queries import PerfReader
from server.perf.report import build_report, check_report_args
from server.perf.tracker import PerfConfig, PerformanceTracker
from server.settings import Settings
from server.store import BudgetLimits, BudgetStatus, Store

__all__ = ["PerfServices", "budget_dict", "perf_services", "budget_limits", "cost_report", "read_budget"]

log = logging.getLogger(__name__)


def budget_limits(settings: Settings) -> BudgetLimits:
    """The configured budgets as the store's `BudgetLimits`."""
    b = settings.budgets
    return BudgetLimits(
        daily=b.daily, weekly=b.weekly, monthly=b.monthly, per_task=b.per_task, stop_at=b.stop_at, warn_at=b.warn_at
    )


def budget_dict(status: BudgetStatus) -> dict[str, Any]:
    """JSON-ready budget status (an infinite fraction — a zero limit — becomes None)."""
    data = dataclasses.asdict(status)
    for period in data["periods"]:
        fraction = period.get("fraction")
        if isinstance(fraction, float) and not math.isfinite(fraction):
            period["fraction"] = None
        for key in ("spent", "reserved"):
            period[key] = round(period[key], 6)
    return data


async def read_budget(
    settings: Settings, store: Store | None = None, *, group_id: str | None = None
) -> dict[str, Any] | None:
    """Budget status from `store`, or from a store opened for the occasion (None: no database)."""
    limits = budget_limits(settings)
    if store is not None:
        return budget_dict(await store.budget_status(limits, group_id))
    on_postgres = settings.db_url.startswith("postgresql://")
    if not on_postgres and not settings.db_path.is_file():
        return None
    opened = await Store.open(settings.db_url if on_postgres else settings.db_path)
    try:
        return budget_dict(await opened.budget_status(limits))
    finally:
        await opened.close()


async def cost_report(
    reader: PerfReader,
    catalog: Catalog,
    settings: Settings,
    *,
    days: float = 7.0,
    group_by: str = "model",
    store: Store | None = None,
    tracker: PerformanceTracker | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The full report over the last `days` (see `server.perf.report.build_report`).

    Raises:
        InputError: bad `days` or `group_by`.
        StoreError: the database cannot be read.
    """
    now = time.time() if now is None else now
    facts = await reader.attempt_facts(now - days * 86400.0, now) if 0 < days <= 366 else []
    report = build_report(
        facts, catalog, days=days, group_by=group_by, now=now,
        budget=await read_budget(settings, store), tracker=tracker,
    )
    report["database"] = reader.where
    return report


@dataclass
class PerfServices:
    """What the perf tools, resources and dashboard share in one server process.

    Build one in the server lifespan, give `tracker` to the Router (`performance=`), hand the
    scheduler `tracker.begin_call` / `tracker.record`, and run `refresh_forever()` as a task.
    """

    settings: Settings
    catalog: Catalog
    tracker: PerformanceTracker
    reader: PerfReader
    store: Store | None = None

    @classmethod
    def create(cls, settings: Settings, catalog: Catalog, store: Store | None = None) -> PerfServices:
        tracker = PerformanceTracker(catalog, PerfConfig.from_settings(settings))
        # On PostgreSQL the history lives in the shared database, read through the store.
        on_postgres = store is not None and store.kind == "postgresql"
        reader = PerfReader.for_store(store) if store is not None and on_postgres else PerfReader(settings.db_path)
        return cls(settings, catalog, tracker, reader, store)

    async def refresh(self) -> int:
        """Rebuild the tracker from the database now (0 when there is no database yet)."""
        if not self.reader.exists:
            return 0
        return await self.tracker.refresh(self.reader.attempt_facts)

    async def refresh_forever(self, interval_s: float = 60.0) -> None:
        while True:
            try:
                await self.refresh()
            except PWMError:  # a failed refresh keeps the last state; the next one retries
                log.warning("performance refresh failed", exc_info=True)
            await asyncio.sleep(interval_s)

    async def ensure_fresh(self) -> None:
        """Refresh once if nothing has loaded the tracker yet (the lifespan normally does)."""
        if self.tracker.refreshed_at is None:
            await self.refresh()

    async def report(self, days: float = 7.0, group_by: str = "model", now: float | None = None) -> dict[str, Any]:
        await self.ensure_fresh()
        if not self.reader.exists:
            check_report_args(days, group_by)
            return build_report([], self.catalog, days=days, group_by=group_by, now=now,
                                budget=await read_budget(self.settings, self.store), tracker=self.tracker)
        return await cost_report(self.reader, self.catalog, self.settings, days=days, group_by=group_by,
                                 store=self.store, tracker=self.tracker, now=now)

    async def aclose(self) -> None:
        await self.reader.close()


def perf_services(state: Any) -> PerfServices:
    """The process's `PerfServices` (the `perf` field of an `AppState`)."""
    services = state.perf
    assert isinstance(services, PerfServices)
    return services
