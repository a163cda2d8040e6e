"""The resources one server process owns for its lifetime (built in the lifespan, closed after).

Opened in this order, closed in the reverse one by `exit_stack`: the catalogue, one shared
`httpx.AsyncClient`, the SQLite store (then `recover()` settles what a killed server left
running), the provider registry (local servers are probed in the background: start never
waits on them), the router, and the engine, which resumes every unfinished group. Closing
stops the engine first, so interrupted calls are settled while the store is still open.

Tools reach them through the MCP request context (`tools._shared.app_state`); the engine
modules never import this file's consumers, and nothing here knows MCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.backends.registry import ProviderRegistry
from server.catalog import Catalog
from server.perf.price_sync import load_catalog_with_cache
from server.perf.service import PerfServices
from server.routing.router import Router
from server.scheduler.engine import Engine, EngineConfig
from server.scheduler.runner import RunnerConfig
from server.settings import Settings
from server.store import LeaseKeeper, RecoveryReport, Store

__all__ = ["AppState", "engine_config", "open_app_state"]

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    catalog: Catalog
    store: Store | None = None
    http: httpx.AsyncClient | None = None
    registry: ProviderRegistry | None = None
    router: Router | None = None
    engine: Engine | None = None
    recovery: RecoveryReport | None = None
    # Shared per-process caches of other tools (validation results, performance view, ...).
    extras: dict[str, Any] = field(default_factory=dict)
    exit_stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    def require_engine(self) -> Engine:
        if self.engine is None:  # pragma: no cover - a wiring bug
            raise RuntimeError("the engine is not running")
        return self.engine

    async def aclose(self) -> None:
        await self.exit_stack.aclose()


def engine_config(settings: Settings) -> EngineConfig:
    """Engine knobs from the settings (`PWM_STALL_TIMEOUT_S`: longest silence inside a stream)."""
    stall = 60.0
    raw = settings.env.get("PWM_STALL_TIMEOUT_S", "").strip()
    if raw:
        try:
            stall = max(0.1, float(raw))
        except ValueError:
            log.warning("PWM_STALL_TIMEOUT_S=%r is not a number of seconds; using %s", raw, stall)
    return EngineConfig(
        max_concurrent=settings.max_concurrent,
        runner=RunnerConfig(
            stall_timeout_s=stall, allow_unknown_prices=settings.allow_unknown_prices,
            validation_env=dict(settings.env),
        ),
    )


async def open_app_state(settings: Settings) -> AppState:
    """Build every long-lived resource from `settings`.

    Raises:
        ManifestError: the shipped or overlay manifests are broken.
        StoreError: the state database cannot be opened or written.
    """
    catalog = load_catalog_with_cache(settings)
    state = AppState(settings=settings, catalog=catalog)
    stack = state.exit_stack
    try:
        state.http = await stack.enter_async_context(
            httpx.AsyncClient(
                timeout=httpx.Timeout(300.0, connect=10.0),
                limits=httpx.Limits(max_connections=max(64, settings.max_concurrent * 4),
                                    max_keepalive_connections=max(32, settings.max_concurrent * 2)),
                follow_redirects=False,
            )
        )
        state.store = await Store.open(settings.db_url or settings.db_path, lease_s=settings.lease_seconds,
                                       poll_s=settings.poll_seconds)
        stack.push_async_callback(state.store.close)
        state.recovery = await state.store.recover()
        if state.recovery.interrupted_attempts or state.recovery.requeued_tasks:
            log.warning(
                "recovered after an unclean stop: %d interrupted call(s) settled, %d task(s) re-queued",
                state.recovery.interrupted_attempts, state.recovery.requeued_tasks,
            )
        state.registry = ProviderRegistry(catalog, settings, state.http)
        probe = state.registry.start_probe()
        stack.push_async_callback(_cancel, probe)
        # The performance tracker learns from the attempts in SQLite (refreshed in the background)
        # and from each call as the scheduler settles it; the router reads it.
        perf = PerfServices.create(settings, catalog, state.store)
        stack.push_async_callback(perf.aclose)
        await perf.refresh()
        state.extras["perf"] = perf
        state.extras["performance"] = perf.tracker
        refresher = asyncio.create_task(perf.refresh_forever(60.0), name="perf-refresh")
        stack.push_async_callback(_cancel, refresher)
        state.router = Router(
            catalog, availability=state.registry.availability,
            performance=perf.tracker,
            allow_unknown_prices=settings.allow_unknown_prices,
        )
        state.extras["router"] = state.router
        state.extras["availability"] = state.registry.availability
        state.engine = Engine(
            settings=settings, catalog=catalog, store=state.store, providers=state.registry,
            router=state.router, config=engine_config(settings), observer=perf.tracker,
        )
        stack.push_async_callback(state.engine.aclose)
        resumed = await state.engine.resume()
        if resumed:
            log.info("resumed %d unfinished group(s)", len(resumed))
        # Renew this instance's lease; take over the groups of instances that stopped.
        leases = LeaseKeeper(state.store, state.engine.resume)
        leases.start()
        stack.push_async_callback(leases.aclose)
    except BaseException:
        await stack.aclose()
        raise
    return state


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
