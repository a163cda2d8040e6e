"""Builders for store tests, and the bodies the multi-process tests run in child processes."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from server.errors import BudgetExceeded
from server.store import BudgetLimits, NewGroup, NewTask, Store

__all__ = ["crash_mid_group", "new_group", "new_tasks", "pg_schema_url", "query", "reserve_many"]


def pg_schema_url(base: str, schema: str) -> str:
    """`base` with its search_path set to `schema` (so each test has tables of its own)."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def query(db: str | Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one statement run straight on the database (SQLite file or PostgreSQL URL)."""
    if isinstance(db, str) and db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), params).fetchall()]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def new_group(name: str | None = "g", *, budget: float | None = None, dry_run: bool = False) -> NewGroup:
    return NewGroup(name=name, strategy="balanced", policy="code", max_concurrent=4,
                    budget_usd=budget, dry_run=dry_run, request_json='{"tasks": []}')


def new_tasks(n: int, keys: list[str] | None = None) -> list[NewTask]:
    keys = keys or [f"t{i + 1}" for i in range(n)]
    return [
        NewTask(key=k, position=i, agent_type="aria_coder_backend_speed", agent="aria_coder_backend",
                variant="speed", agent_name="aria_coder_backend_speed", description=f"task {k}",
                tags=["x"], depends_on=[], plan_json='{"chain": ["m1"]}')
        for i, k in enumerate(keys)
    ]


async def _reserve_many(db: str | Path, calls: int, estimate: float, daily: float) -> int:
    store = await Store.open(db)
    limits = BudgetLimits(daily=daily)

    async def one(index: int) -> int:
        try:  # half of them quick: on SQLite they try the loop's thread first (see sqlite_backend)
            attempt, _ = await store.begin_task_attempt(None, None, "paid-model", "openrouter", "speed",
                                                        estimate, True, limits, quick=index % 2 == 1)
        except BudgetExceeded:
            return 0
        await asyncio.sleep(0)  # let the others reserve while this "call" is in flight
        await store.settle_attempt(attempt.id, status="succeeded", cost=estimate,
                                   cost_source="provider_reported")
        return 1

    try:
        return sum(await asyncio.gather(*(one(i) for i in range(calls))))
    finally:
        await store.close()


def reserve_many(db: str | Path, calls: int, estimate: float, daily: float) -> None:
    """Child process: `calls` concurrent paid calls, each reserving and settling `estimate`."""
    asyncio.run(_reserve_many(db, calls, estimate, daily))


async def _crash_mid_group(db: str | Path, ready: Event) -> None:
    store = await Store.open(db)
    group = await store.create_group(new_group("crashy"), new_tasks(4))
    tasks = await store.list_tasks(group.id)
    for t in tasks[:2]:
        await store.transition_task(t.id, ["pending"], "running")
        await store.begin_attempt(t.id, group.id, "paid-model", "openrouter", "speed", 0.05, True,
                                  BudgetLimits())
    await store.transition_task(tasks[2].id, ["pending"], "queued")
    ready.set()
    await asyncio.Event().wait()  # until SIGKILL


def crash_mid_group(db: str | Path, ready: Event) -> None:
    """Child process: leaves 2 running tasks with running attempts, 1 queued, 1 pending; then waits."""
    asyncio.run(_crash_mid_group(db, ready))
