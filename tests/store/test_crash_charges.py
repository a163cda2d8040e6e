"""SIGKILL a real server with 4 paid calls in flight: the ledger still matches what the provider served.

The server runs as a client runs it (`python -m server serve` on stdio), its paid model pointed
at the loopback provider. The first two calls answer (with a provider-reported cost), the next
four hang, and the server is killed with those four in flight. The provider bills every call it
received, answered or not; after `recover()` our ledger must equal that bill within one
reservation per interrupted call, with every task either done or queued again and every call
charged exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from server.store import Store
from tests.conftest import REPO
from tests.e2e.helpers import call
from tests.scheduler.overlay import loop_env
from tests.store.helpers import query
from tests.support.loopback_provider import Hang, LoopbackProvider, Reply

PRICE = 0.001  # what the provider bills per call


def _server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env, cwd=str(REPO))


def _running_calls(db: str | Path) -> tuple[list[int], int]:
    pids = [row[0] for row in query(db, "SELECT pid FROM owners")]
    ((running,),) = query(db, "SELECT count(*) FROM attempts WHERE status = 'running'")
    return pids, running


async def _wait_for_four_in_flight(db: str | Path, lp: LoopbackProvider) -> int:
    async with asyncio.timeout(30):
        while True:
            pids, running = await asyncio.to_thread(_running_calls, db)
            if len(lp.requests_for("mid-a")) >= 6 and running == 4 and pids:
                return pids[0]
            await asyncio.sleep(0.02)


async def test_sigkill_with_four_paid_calls_in_flight_charges_them_and_matches_the_provider(
    tmp_path: Path, db: str | Path
) -> None:
    with LoopbackProvider() as lp:
        lp.script("mid-a", [Reply("done", cost=PRICE), Reply("done", cost=PRICE)], default=Hang(60))
        env = loop_env(tmp_path, lp.openai_url, PWM_LOG_LEVEL="WARNING")
        env["PWM_STALL_TIMEOUT_S"] = "60"  # the hung calls stay in flight until the kill
        env["PWM_DB"] = str(db)
        tasks = [{"id": f"t{i}", "agent_type": "tcoder_balanced", "task_description": f"Write module {i}"}
                 for i in range(6)]
        killed = False
        with contextlib.suppress(Exception, BaseExceptionGroup):
            async with Client(_server(env), read_timeout_seconds=30) as client:
                submitted = await call(client, "submit_parallel_tasks",
                                       {"tasks": tasks, "group_name": "bill", "max_concurrent": 4})
                pid = await _wait_for_four_in_flight(db, lp)
                os.kill(pid, signal.SIGKILL)
                killed = True
                await call(client, "get_parallel_group_status", {"group_id": submitted["group_id"]})
        assert killed
        served = lp.requests_for("mid-a")

    store = await Store.open(db)
    try:
        report = await store.recover()
        assert (report.dead_owners, report.interrupted_attempts, report.requeued_tasks) == (1, 4, 4)
        (group,) = await store.unfinished_groups()
        attempts = await store.list_attempts(group_id=group.id)
        statuses = sorted(t.status for t in await store.list_tasks(group.id))
    finally:
        await store.close()

    # 0 tasks lost: two done, the four cut by the kill queued to run again.
    assert statuses == ["queued"] * 4 + ["succeeded"] * 2
    # One attempt row per call the provider received, each settled once.
    assert len(attempts) == len(served) == 6
    assert all(a.status in ("succeeded", "interrupted") and a.reserved_usd == 0 for a in attempts)
    interrupted = [a for a in attempts if a.status == "interrupted"]
    assert all(a.charged_usd > 0 and a.cost_source == "reservation" for a in interrupted)
    ledger = sum(a.charged_usd for a in attempts)
    bill = PRICE * len(served)
    assert abs(ledger - bill) <= sum(a.charged_usd for a in interrupted) + 1e-12
    assert sum(a.charged_usd for a in attempts if a.status == "succeeded") == 2 * PRICE
