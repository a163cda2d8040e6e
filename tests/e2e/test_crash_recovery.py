"""Kill the server with SIGKILL in the middle of a group, start it again: nothing is lost.

The server runs as Claude Desktop runs it: `python -m server serve` on stdio, its database
in tmp_path, its providers pointed at the loopback server, whose answers hang until the
restart. The pid to kill is read from the database's owners table (the store records it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import REPO
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import Hang, LoopbackProvider, Reply


def _server(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env, cwd=str(REPO))


def _live_pids(db: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT pid FROM owners")]


async def test_group_survives_sigkill_and_finishes_after_restart(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(60), model="fast-a")
        env = loop_env(tmp_path, lp.openai_url, PWM_LOG_LEVEL="WARNING")
        db = Path(env["PWM_DB"])
        tasks: list[dict[str, Any]] = [
            {"id": "a", "agent_type": "tcoder_speed", "task_description": "Write module a"},
            {"id": "b", "agent_type": "tcoder_speed", "task_description": "Write module b"},
            {"id": "c", "agent_type": "tcoder_speed", "task_description": "Test a and b", "depends_on": ["a", "b"]},
        ]
        killed = False
        with contextlib.suppress(Exception, BaseExceptionGroup):
            async with Client(_server(env), read_timeout_seconds=30) as client:
                submitted = await call(client, "submit_parallel_tasks", {"tasks": tasks, "group_name": "crash"})
                group_id = submitted["group_id"]
                assert await asyncio.to_thread(lp.wait_for_requests, 2, 10)
                (pid,) = _live_pids(db)
                os.kill(pid, signal.SIGKILL)
                killed = True
                await call(client, "get_parallel_group_status", {"group_id": group_id})
        assert killed
        lp.set_default(Reply("done"), model="fast-a")
        async with Client(_server(env), read_timeout_seconds=30) as client:
            status = await wait_finished(client, group_id)
        assert status["status"] == "succeeded" and status["counts"] == {"succeeded": 3}
        by_task = {t["id"]: [(a["outcome"], a["error_class"]) for a in t["attempts"]] for t in status["tasks"]}
        # The two calls cut by the kill were settled once, as interrupted; the tasks then re-ran.
        assert by_task["a"] == [("interrupted", "interrupted"), ("succeeded", None)]
        assert by_task["b"] == [("interrupted", "interrupted"), ("succeeded", None)]
        assert by_task["c"] == [("succeeded", None)]
        with contextlib.closing(sqlite3.connect(db)) as conn:
            running = conn.execute("SELECT count(*) FROM attempts WHERE status = 'running'").fetchone()[0]
        assert running == 0
