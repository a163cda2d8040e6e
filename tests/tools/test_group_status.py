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
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("first")])
        lp.set_default(Hang(30), model="fast-a")
        async with Client(build_server(load_settings(loop_env(tmp_path, lp.openai_url)))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "quick", "agent_type": "tcoder_speed", "task_description": "Write a"},
                {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b", "depends_on": ["quick"]},
            ]})
            seen: set[str] = set()
            async with asyncio.timeout(20):
                while "succeeded" not in seen:
                    result = await client.call_tool(
                        "get_parallel_group_status", {"group_id": submitted["group_id"], "wait_seconds": 15},
                        progress_callback=on_progress,
                    )
                    status: dict[str, Any] = result.structured_content or {}
                    seen = {t["status"] for t in status["tasks"]}
            assert not status["finished"] and status["progress"] == 0.5
            await call(client, "cancel_parallel_group", {"group_id": submitted["group_id"]})
    assert progress and progress[-1][1] == 2.0


async def test_a_long_wait_is_cut_at_the_tool_time_limit(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        env = loop_env(tmp_path, lp.openai_url, PWM_TOOL_TIME_LIMIT_S="0.5")
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b"},
            ]})
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with asyncio.timeout(10):  # far below the 300 s asked for
                status = await call(client, "get_parallel_group_status",
                                    {"group_id": submitted["group_id"], "wait_seconds": 300})
            waited = loop.time() - started
            await call(client, "cancel_parallel_group", {"group_id": submitted["group_id"]})
    assert not status["finished"]
    assert 0.4 <= waited < 10
