"""The resources one server process owns for its lifetime (built in the lifespan, closed after).

Opened in this order, closed in the reverse one by `exit_stack`: the catalogue, one shared
`httpx.AsyncClient`, the SQLite store (then `recover()` settles what a killed server left
running), the provider registry (local servers are probed in the background: start never
waits on them), the router, and the engine, which resumes every unfinished group. Closing
stops the engine first, so interrupted calls are settled while the store is still open.

Tools reach them through the MCP request context (`tools._shared.app_state`); the engine
modules never import this file's consumers, and nothing here knows MCP. Every field is a
typed, required service: there is no grab-bag of extras.

`StateOpener` opens it in the background when first needed (`server.app` hands each request
that needs it the open state), so a server answers `initialize` and `tools/list` first; the
engine's modules are imported only then, in a worker thread, never when this file is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server.settings import Settings

if TYPE_CHECKING:  # imported when the state is opened, so a server answers `tools/list` without them
    import httpx

    from server.backends.registry import ProviderRegistry
    from server.catalog import Catalog
    from server.perf.service import PerfServices
    from server.routing.router import Router
    from server.scheduler.engine import Engine, EngineConfig
    from server.store import RecoveryReport, Store
    from server.validation.cache import ResultCache
    from server.validation.runs import ValidationRuns
    from server.workflows.followup_runs import FollowUpRuns

__all__ = ["AppState", "StateOpener", "engine_config", "open_app_state"]

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
    follow_ups: FollowUpRuns  # continue_task's runs that outlast a call (cancelled at close)
    exit_stack: AsyncExitStack

    async def aclose(self) -> None:
        await self.exit_stack.aclose()


def engine_config(settings: Settings) -> EngineConfig:
    """Engine knobs from the settings."""
    from server.scheduler.engine import EngineConfig
    from server.scheduler.runner import RunnerConfig

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
    # The engine's modules and the catalogue load in a worker thread: the event loop keeps
    # answering (and writing) while they do.
    catalog = await asyncio.to_thread(_load_engine_modules, settings, catalog)
    import httpx

    from server.backends.http_client import provider_http_client
    from server.backends.registry import ProviderRegistry
    from server.perf.service import PerfServices
    from server.routing.router import Router
    from server.scheduler.engine import Engine
    from server.store import LeaseKeeper, Store
    from server.validation.cache import ResultCache
    from server.validation.runs import ValidationRuns
    from server.workflows.followup_runs import FollowUpRuns

    stack = AsyncExitStack()
    try:
        http = await stack.enter_async_context(
            provider_http_client(max(64, settings.max_concurrent * 4), max(32, settings.max_concurrent * 2),
                                 timeout=httpx.Timeout(300.0, connect=10.0))
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
        follow_ups = FollowUpRuns()
        stack.push_async_callback(follow_ups.aclose)  # before the engine's close: their calls settle first
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
        validation_runs=validation_runs, follow_ups=follow_ups, exit_stack=stack,
    )


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _load_engine_modules(settings: Settings, catalog: Catalog | None) -> Catalog:
    """Import what running groups needs and load the catalogue (`catalog`, else the configured one)."""
    import server.backends.http_client
    import server.backends.registry
    import server.perf.service
    import server.scheduler.engine
    import server.store
    import server.validation.runs  # noqa: F401
    from server.perf.price_sync import load_catalog_with_cache

    return catalog or load_catalog_with_cache(settings)


class StateOpener:
    """Opens the `AppState` once, in the background, when first asked; closes it at the end.

    A stdio server answers `initialize` and `tools/list` before its state is open (start-up is
    what a client waits for); a request that needs the state awaits `get()`. A failed open is
    raised to every such request (the error names what is broken) and logged once.
    """

    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog  # already loaded (and checked) at start, else loaded when opening
        self._task: asyncio.Task[AppState] | None = None

    def start(self) -> None:
        """Begin opening (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._open(), name="pwm-open-state")

    async def _open(self) -> AppState:
        try:
            return await open_app_state(self.settings, self.catalog)
        except Exception as exc:
            log.error("the server's state could not be opened: %s", exc)
            raise

    async def get(self) -> AppState:
        """The open state (opening it now if nobody has asked yet).

        Raises:
            ManifestError, StoreError, ConfigError: the state cannot be opened.
        """
        self.start()
        assert self._task is not None
        return await asyncio.shield(self._task)

    @property
    def state(self) -> AppState | None:
        """The state once it is open, else None."""
        task = self._task
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if not task.cancelled() and task.exception() is None:
            await task.result().aclose()
