"""Build a real engine (real SQLite store, real router over the test overlay) on the fake backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.catalog import load_catalog
from server.routing.router import Router
from server.scheduler.engine import Engine, EngineConfig
from server.scheduler.retry import RetryPolicy
from server.scheduler.runner import RunnerConfig
from server.scheduler.types import GroupInput, TaskInput
from server.settings import load_settings
from server.store import Store
from tests.conftest import isolated_env
from tests.scheduler.fakes import FakeBackend, FakeProviders
from tests.scheduler.overlay import write_overlay

__all__ = ["Harness", "harness", "tasks"]

FAST_RETRY = RetryPolicy(max_retries=2, base_s=0.001, cap_s=0.005)


@dataclass
class Harness:
    engine: Engine
    store: Store
    backend: FakeBackend
    providers: FakeProviders

    async def run(self, group: GroupInput, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """Submit and wait until the group finishes; its id."""
        result = await self.engine.submit(group)
        assert result.group_id is not None
        await self.finish(result.group_id, timeout)
        return result.group_id

    async def finish(self, group_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109

        async with asyncio.timeout(timeout):
            while self.engine.is_running(group_id):
                await self.engine.wait_for_change(group_id, timeout)

    async def statuses(self, group_id: str) -> dict[str, str]:
        return {t.key: t.status for t in await self.store.list_tasks(group_id)}


def tasks(*specs: dict[str, Any], **group: Any) -> GroupInput:
    items = []
    for spec in specs:
        spec = dict(spec)
        spec.setdefault("agent_type", "tcoder_speed")
        spec.setdefault("description", f"Write function {spec.get('key', 'x')}")
        if "depends_on" in spec:
            spec["depends_on"] = tuple(spec["depends_on"])
        items.append(TaskInput(**spec))
    return GroupInput(tasks=tuple(items), **group)


@asynccontextmanager
async def harness(
    tmp_path: Path, *, max_concurrent: int = 8, retry: RetryPolicy = FAST_RETRY, overlay: dict[str, Any] | None = None,
    store: Store | None = None, **settings_overrides: Any,
) -> AsyncIterator[Harness]:
    manifests = write_overlay(tmp_path / "manifests", **(overlay or {}))
    settings = load_settings(isolated_env(tmp_path, PWM_MANIFESTS=str(manifests)), max_concurrent=max_concurrent,
                             **settings_overrides)
    catalog = load_catalog(settings.manifests_overlay)
    own_store = store is None
    db = store or await Store.open(settings.db_path)
    providers = FakeProviders(catalog)
    router = Router(catalog, availability=providers.availability, allow_unknown_prices=False)
    engine = Engine(
        settings=settings, catalog=catalog, store=db, providers=providers, router=router,
        config=EngineConfig(max_concurrent=max_concurrent, runner=RunnerConfig(retry=retry, stall_timeout_s=1.0)),
    )
    try:
        yield Harness(engine, db, providers.backend, providers)
    finally:
        await engine.aclose()
        if own_store:
            await db.close()
