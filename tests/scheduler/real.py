"""A real engine (SQLite store, provider registry, router, httpx client) on the loopback provider.

Shared by scheduler tests and the scheduler benchmarks: both loop providers of the test overlay
(`loopa`, `loopb`) point at one loopback server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from server.backends.http_client import provider_http_client
from server.backends.registry import ProviderRegistry
from server.catalog import load_catalog
from server.routing.router import Router
from server.scheduler.engine import Engine, EngineConfig
from server.scheduler.runner import RunnerConfig
from server.settings import load_settings
from server.store import Store
from tests.scheduler.overlay import loop_env, write_overlay

__all__ = ["open_engine"]


@asynccontextmanager
async def open_engine(
    tmp: Path, base_url: str, *, concurrency: int, runner: RunnerConfig | None = None, rate_window_s: float = 60.0,
    move_after_s: float = 0.5, provider_extra: str = "",
) -> AsyncIterator[Engine]:
    env = loop_env(tmp, base_url)
    write_overlay(tmp / "manifests", provider_extra=provider_extra)
    settings = load_settings(env, max_concurrent=concurrency, max_tasks_per_group=10_000)
    catalog = load_catalog(settings.manifests_overlay)
    async with provider_http_client(256, 128) as http:
        store = await Store.open(settings.db_path)
        registry = ProviderRegistry(catalog, settings, http)
        router = Router(catalog, availability=registry.availability)
        engine = Engine(
            settings=settings, catalog=catalog, store=store, providers=registry, router=router,
            config=EngineConfig(max_concurrent=concurrency, rate_window_s=rate_window_s, move_after_s=move_after_s,
                                runner=runner or RunnerConfig()),
        )
        try:
            yield engine
        finally:
            await engine.aclose()
            await store.close()
