"""`get_parallel_group_status`: waiting returns on the first change, with progress notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import Hang, LoopbackProvider, Reply


async def test_wait_returns_when_something_changes_and_reports_progress(tmp_path: Path) -> None:
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    with LoopbackProvider() as lp:
        lp.script("fast-a", [Hang(1.0, then=Reply("first"))])  # "quick" answers a second after it starts
        lp.set_default(Hang(30), model="fast-a")
        # No stall cut: "stuck" hangs, so "quick" finishing is the only change while the call waits.
        env = {**loop_env(tmp_path, lp.openai_url), "PWM_STALL_TIMEOUT_S": "60"}
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "quick", "agent_type": "tcoder_speed", "task_description": "Write a"},
                {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b", "depends_on": ["quick"]},
            ]})
            group = {"group_id": submitted["group_id"]}
            async with asyncio.timeout(10):  # until "quick" runs (each call answers at once)
                while "running" not in {t["status"] for t in (await call(
                        client, "get_parallel_group_status", group))["tasks"]}:
                    pass
            loop = asyncio.get_running_loop()
            started = loop.time()
            result = await client.call_tool("get_parallel_group_status", {**group, "wait_seconds": 15},
                                            progress_callback=on_progress)
            waited = loop.time() - started
            status: dict[str, Any] = result.structured_content or {}
            await call(client, "cancel_parallel_group", group)
    assert waited < 10  # woken by the change, not by the 15 s asked for
    assert {t["id"]: t["status"] for t in status["tasks"]}["quick"] == "succeeded"
    assert not status["finished"] and status["progress"] == 0.5
    assert notes and notes[0][:2] == (0.0, 2.0) and notes[-1][:2] == (1.0, 2.0)


async def test_a_long_wait_is_cut_at_the_tool_time_limit(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        env = {**loop_env(tmp_path, lp.openai_url, PWM_TOOL_TIME_LIMIT_S="0.5"), "PWM_STALL_TIMEOUT_S": "60"}
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b"},
            ]})
            # Once the call hangs nothing changes any more, so only the time limit can end the wait.
            async with asyncio.timeout(10):  # until it runs (each call answers at once)
                while (await call(client, "get_parallel_group_status",
                                  {"group_id": submitted["group_id"]}))["tasks"][0]["status"] != "running":
                    pass
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with asyncio.timeout(10):  # far below the 300 s asked for
                status = await call(client, "get_parallel_group_status",
                                    {"group_id": submitted["group_id"], "wait_seconds": 300})
            waited = loop.time() - started
            await call(client, "cancel_parallel_group", {"group_id": submitted["group_id"]})
    assert not status["finished"]
    assert 0.4 <= waited < 10
