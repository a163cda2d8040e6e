"""The resources one server process owns for its lifetime (built in the lifespan, closed after).

Opened in this order, closed in the reverse one by `exit_stack`: the catalogue, one shared
`httpx.AsyncClient`, the SQLite store (then `recover()` settles what a killed server left
running), the provider registry (local servers are probed in the background: start never
waits on them), the router, and the engine, which resumes every unfinished group. Closing
stops the engine first, so interrupted calls are settled while the store is still open.

Tools reach them through the MCP request context (`tools._shared.app_state`); the engine
modules never import this file's consumers, and nothing here knows MCP. Every field is a
typed, required service: there is no grab-bag of extras.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
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
from server.validation.cache import ResultCache
from server.validation.runs import ValidationRuns

__all__ = ["AppState", "engine_config", "open_app_state"]

log = logging.getLogger(__name__)


@dataclass
class AppState:
    """Every service one server process owns; all built before the first request is served."""

    settings: Settings
    catalog: Catalog
    http: httpx.AsyncClient
    store: Store
    recovery: RecoveryReport
    registry: ProviderRegistry
    perf: PerfServices
    router: Router
    engine: Engine
    validation_cache: ResultCache
    validation_runs: ValidationRuns  # validate_workspace's background runs (cancelled at close)
    exit_stack: AsyncExitStack

    async def aclose(self) -> None:
        await self.exit_stack.aclose()


def engine_config(settings: Settings) -> EngineConfig:
    """Engine knobs from the settings."""
    return EngineConfig(
        max_concurrent=settings.max_concurrent,
        runner=RunnerConfig(
            stall_timeout_s=settings.stall_timeout_s, allow_unknown_prices=settings.allow_unknown_prices,
            validation_env=dict(settings.env),
        ),
    )


async def open_app_state(settings: Settings, catalog: Catalog | None = None) -> AppState:
    """Build every long-lived resource from `settings` (and `catalog`, default: the configured one).

    Raises:
        ManifestError: the shipped or overlay manifests are broken.
        StoreError: the state database cannot be opened or written.
    """
    catalog = catalog or load_catalog_with_cache(settings)
    stack = AsyncExitStack()
    try:
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                timeout=httpx.Timeout(300.0, connect=10.0),
                limits=httpx.Limits(max_connections=max(64, settings.max_concurrent * 4),
                                    max_keepalive_connections=max(32, settings.max_concurrent * 2)),
                follow_redirects=False,
            )
        )
        store = await Store.open(settings.db_url or settings.db_path, lease_s=settings.lease_seconds,
                                 poll_s=settings.poll_seconds)
        stack.push_async_callback(store.close)
        recovery = await store.recover()
        if recovery.interrupted_attempts or recovery.requeued_tasks:
            log.warning(
                "recovered after an unclean stop: %d interrupted call(s) settled, %d task(s) re-queued",
                recovery.interrupted_attempts, recovery.requeued_tasks,
            )
        registry = ProviderRegistry(catalog, settings, http)
        stack.push_async_callback(_cancel, registry.start_probe())
        # The performance tracker learns from the attempts in SQLite (refreshed in the background)
        # and from each call as the scheduler settles it; the router reads it.
        perf = PerfServices.create(settings, catalog, store)
        stack.push_async_callback(perf.aclose)
        await perf.refresh()
        stack.push_async_callback(_cancel, asyncio.create_task(perf.refresh_forever(60.0), name="perf-refresh"))
        router = Router(
            catalog, availability=registry.availability, performance=perf.tracker,
            allow_unknown_prices=settings.allow_unknown_prices,
        )
        engine = Engine(
            settings=settings, catalog=catalog, store=store, providers=registry,
            router=router, config=engine_config(settings), observer=perf.tracker,
        )
        stack.push_async_callback(engine.aclose)
        validation_runs = ValidationRuns()
        stack.push_async_callback(validation_runs.aclose)
        resumed = await engine.resume()
        if resumed:
            log.info("resumed %d unfinished group(s)", len(resumed))
        # Renew this instance's lease; take over the groups of instances that stopped.
        leases = LeaseKeeper(store, engine.resume)
        leases.start()
        stack.push_async_callback(leases.aclose)
    except BaseException:
        await stack.aclose()
        raise
    return AppState(
        settings=settings, catalog=catalog, http=http, store=store, recovery=recovery, registry=registry,
        perf=perf, router=router, engine=engine, validation_cache=ResultCache(),
        validation_runs=validation_runs, exit_stack=stack,
    )


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
