"""`submit_parallel_tasks` with `wait_seconds`: a short group's results in the one call, a long one cut
at the tool time limit with the way to follow it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client

import tools.get_parallel_group_status as group_status
from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, task_of
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import Hang, LoopbackProvider, Reply


async def test_a_submit_that_waits_answers_with_the_finished_groups_results(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("def a(): pass"), Reply("def b(): pass")])
        async with Client(build_server(load_settings(loop_env(tmp_path, lp.openai_url)))) as client:
            result = await client.call_tool("submit_parallel_tasks", {"wait_seconds": 20, "tasks": [
                {"id": "a", "agent_type": "tcoder_speed", "task_description": "Write a"},
                {"id": "b", "agent_type": "tcoder_speed", "task_description": "Write b", "depends_on": ["a"]},
            ]})
            assert not result.is_error and result.structured_content is not None
            text = result.content[0].text  # type: ignore[union-attr]
            # The same reply as asking for the status afterwards.
            later = await call(client, "get_parallel_group_status", {"group_id": result.structured_content["group_id"]})
    submitted = result.structured_content
    status = submitted["group_status"]
    assert status["finished"] and status["status"] == "succeeded" and status["counts"] == {"succeeded": 2}
    assert task_of(status, "a")["result"] == "def a(): pass" and task_of(status, "b")["result"] == "def b(): pass"
    assert {k: v for k, v in status.items() if k != "elapsed_seconds"} == {
        k: v for k, v in later.items() if k != "elapsed_seconds"}
    assert [t["id"] for t in submitted["tasks"]] == ["a", "b"]  # the plan is still there
    assert "get_parallel_group_status" not in submitted["next_step"] and "group_status" in submitted["next_step"]
    assert "After the wait: Group" in text and "2 succeeded" in text


async def test_a_submit_wait_is_cut_at_the_tool_time_limit_and_says_how_to_follow(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        env = {**loop_env(tmp_path, lp.openai_url, PWM_TOOL_TIME_LIMIT_S="0.2"), "PWM_STALL_TIMEOUT_S": "60"}
        async with Client(build_server(load_settings(env))) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with asyncio.timeout(10):  # far below the 300 s asked for
                submitted = await call(client, "submit_parallel_tasks", {"wait_seconds": 300, "tasks": [
                    {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b"}]})
            waited = loop.time() - started
            await call(client, "cancel_parallel_group", {"group_id": submitted["group_id"]})
    assert 0.2 <= waited < 10
    assert not submitted["group_status"]["finished"] and submitted["group_status"]["status"] == "running"
    assert "get_parallel_group_status" in submitted["next_step"]


async def test_without_a_wait_or_on_a_dry_run_the_submit_answers_at_once_without_a_status(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        env = {**loop_env(tmp_path, lp.openai_url), "PWM_STALL_TIMEOUT_S": "60"}
        async with Client(build_server(load_settings(env))) as client:
            task = {"agent_type": "tcoder_speed", "task_description": "Write b"}
            async with asyncio.timeout(10):
                dry = await call(client, "submit_parallel_tasks", {"wait_seconds": 30, "dry_run": True, "tasks": [task]})
                running = await call(client, "submit_parallel_tasks", {"tasks": [task]})
            await call(client, "cancel_parallel_group", {"group_id": running["group_id"]})
    assert dry["group_status"] is None and dry["status"] == "planned"
    assert running["group_status"] is None and running["status"] == "running"


async def test_while_a_submit_waits_on_a_silent_group_it_sends_progress_to_keep_the_call_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(group_status, "PROGRESS_EVERY_S", 0.1)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        env = {**loop_env(tmp_path, lp.openai_url, PWM_TOOL_TIME_LIMIT_S="0.6"), "PWM_STALL_TIMEOUT_S": "60"}
        async with Client(build_server(load_settings(env))) as client:
            async with asyncio.timeout(10):
                result = await client.call_tool("submit_parallel_tasks", {"wait_seconds": 300, "tasks": [
                    {"id": "stuck", "agent_type": "tcoder_speed", "task_description": "Write b"}]},
                    progress_callback=on_progress)
            assert result.structured_content is not None
            await call(client, "cancel_parallel_group", {"group_id": result.structured_content["group_id"]})
    # Nothing changes while the call hangs: only the keep-alive speaks, then the final count.
    assert len(seen) >= 3
    assert all(done == 0.0 and total == 1.0 for done, total, _ in seen)
    assert seen[0][2] is not None and "0/1 tasks finished (running)" in seen[0][2]
