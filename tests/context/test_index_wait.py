"""A first index that outlasts a tool call: a clear error, the index goes on, a later call answers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from server.context import ContextOptions, close_indexes, select_context
from server.context.waiting import deadline_after, select_in_time
from server.errors import WorkspaceError
from server.settings import load_settings
from tests.scheduler.overlay import loop_env
from tests.support.replies import reply_text
from tests.validation.helpers import make_repo

_BODY = "".join(f"def f{j}_N(value, other):\n    '''Return the value {j}.'''\n    return value * {j} + other\n\n\n"
                for j in range(12))


def _context_threads() -> int:
    return sum(t.name == "pwm-context" for t in threading.enumerate())


async def _until_no_context_thread() -> None:
    for _ in range(600):
        if not _context_threads():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the background selection never ended")


async def test_past_the_deadline_the_index_goes_on_and_the_next_call_answers(
        repo: Path, options: ContextOptions) -> None:
    task = "apply_discount must not discount orders of exactly 100"
    with pytest.raises(WorkspaceError) as caught:
        await select_in_time(repo, task, [], 2000, options, deadline=deadline_after(0.0), field_prefix="tasks[1].")
    message = str(caught.value)
    assert message.startswith("tasks[1].workspace:") and "still being indexed" in message and "call again" in message
    # The next call waits for the first to end (it may still be running), then answers.
    selection = await select_in_time(repo, task, [], 2000, options, deadline=None)
    assert selection.as_dict() == select_context(repo, task, [], 2000, options).as_dict()
    await _until_no_context_thread()


async def test_errors_of_the_selection_itself_reach_the_caller(repo: Path, options: ContextOptions) -> None:
    from server.errors import InputError

    with pytest.raises(InputError) as caught:
        await select_in_time(repo, "x", ["shop/nope.py"], 2000, options, deadline=deadline_after(30.0))
    assert caught.value.field == "files[0]"


async def test_route_task_on_a_repository_slower_to_index_than_the_tool_limit(tmp_path: Path) -> None:
    # 300 files of 12 functions: about 0.3 s to index alone on 2 cores (0.7 s in the server), against
    # a 0.1 s tool limit.
    repo = make_repo(tmp_path / "repo", {f"pkg/mod_{i}.py": _BODY.replace("_N", f"_{i}") for i in range(300)})
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9", PWM_ALLOWED_ROOTS=str(tmp_path),
                                      PWM_TOOL_TIME_LIMIT_S="0.1"))
    args = {"task_description": "f3_17 must add other twice", "agent_type": "tcoder_speed",
            "workspace": str(repo), "context_budget_tokens": 1500}
    try:
        async with Client(build_server(settings)) as client:
            first = await client.call_tool("route_task", args)
            answered = None
            for _ in range(300):
                result = await client.call_tool("route_task", args)
                if not result.is_error:
                    answered = result
                    break
                await asyncio.sleep(0.1)
    finally:
        await _until_no_context_thread()
        close_indexes()
    assert first.is_error
    text = reply_text(first)
    assert "workspace" in text and "still being indexed" in text and "call again" in text
    assert answered is not None and answered.structured_content is not None
    paths = [f["path"] for f in answered.structured_content["context"]["files"]]
    assert paths[0] == "pkg/mod_17.py"
