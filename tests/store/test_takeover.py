"""Two real servers on one database: kill the one running a group, the other finishes it.

Both run as clients run them (`python -m server serve` on stdio), sharing one store (a SQLite
file, or one PostgreSQL database), their paid model pointed at the loopback provider. Server A
starts a group whose calls hang; server B is idle. A is killed with SIGKILL; B's lease keeper
finds A's group within the lease plus one poll, resumes it and finishes it: every task
succeeds, every call the provider received is one attempt row charged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import REPO
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.store.helpers import query
from tests.support.loopback_provider import Hang, LoopbackProvider, Reply

LEASE_S, POLL_S, PRICE = 3.0, 0.5, 0.001


def _server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env, cwd=str(REPO))


def _owner_of(db: str | Path, group_id: str) -> tuple[str, int] | None:
    rows = query(db, "SELECT g.owner, o.pid FROM groups g JOIN owners o ON o.id = g.owner WHERE g.id = ?",
                 (group_id,))
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


async def test_a_killed_servers_group_is_finished_by_another_server_within_lease_plus_poll(
    tmp_path: Path, db: str | Path
) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(60), model="mid-a")
        env = loop_env(tmp_path, lp.openai_url, PWM_LOG_LEVEL="WARNING")
        env.update(PWM_DB=str(db), PWM_STALL_TIMEOUT_S="60", PWM_LEASE_SECONDS=str(LEASE_S),
                   PWM_POLL_SECONDS=str(POLL_S))
        tasks: list[dict[str, Any]] = [
            {"id": f"t{i}", "agent_type": "tcoder_balanced", "task_description": f"Write module {i}"}
            for i in range(3)
        ]
        async with Client(_server(env), read_timeout_seconds=30) as survivor:
            killed_at = 0.0
            with contextlib.suppress(Exception, BaseExceptionGroup):
                async with Client(_server(env), read_timeout_seconds=30) as doomed:
                    group_id = (await call(doomed, "submit_parallel_tasks",
                                           {"tasks": tasks, "group_name": "takeover"}))["group_id"]
                    assert await asyncio.to_thread(lp.wait_for_requests, 3, 20)
                    owner = await asyncio.to_thread(_owner_of, db, group_id)
                    assert owner is not None
                    lp.set_default(Reply("done", cost=PRICE), model="mid-a")
                    os.kill(owner[1], signal.SIGKILL)
                    killed_at = time.monotonic()
                    await call(doomed, "get_parallel_group_status", {"group_id": group_id})
            assert killed_at and owner is not None
            async with asyncio.timeout(LEASE_S + POLL_S + 2.0):
                while True:
                    now_owner = await asyncio.to_thread(_owner_of, db, group_id)
                    if now_owner is not None and now_owner[0] != owner[0]:
                        break
                    await asyncio.sleep(0.05)
            taken_after = time.monotonic() - killed_at
            status = await wait_finished(survivor, group_id)
        served = len(lp.requests_for("mid-a"))

    assert taken_after <= LEASE_S + POLL_S
    assert status["status"] == "succeeded" and status["counts"] == {"succeeded": 3}  # 0 tasks lost
    outcomes = sorted(a["outcome"] for t in status["tasks"] for a in t["attempts"])
    assert outcomes == ["interrupted"] * 3 + ["succeeded"] * 3
    rows = query(db, "SELECT status, charged_usd FROM attempts")
    assert len(rows) == served == 6  # one row per call the provider received: none lost, none doubled
    assert all(charged > 0 for _, charged in rows)
    assert sum(charged for status_, charged in rows if status_ == "succeeded") == 3 * PRICE
