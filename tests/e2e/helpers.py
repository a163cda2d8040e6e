"""Helpers for end-to-end tests: an in-process MCP client on a server wired to the loopback provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

__all__ = ["DOCSTRING_TASK", "MUL_DOCSTRING", "attempts_of", "call", "run_task", "run_validated", "served", "task_of",
           "wait_finished"]

# A small change to a repository holding ops.py with add() and mul(): the task, and a right answer
# as a SEARCH/REPLACE block.
DOCSTRING_TASK = "Give mul() in ops.py a docstring"
MUL_DOCSTRING = ("ops.py\n```python\n<<<<<<< SEARCH\ndef mul(a, b):\n    return a * b\n=======\ndef mul(a, b):\n"
                 "    \"\"\"The product of a and b.\"\"\"\n    return a * b\n>>>>>>> REPLACE\n```")


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Call a tool; fail the test with the tool's error text if it errored."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise AssertionError(f"{tool} failed: {text}")
    assert result.structured_content is not None
    return result.structured_content


async def wait_finished(client: Client, group_id: str, rounds: int = 40) -> dict[str, Any]:
    """Follow a group with `wait_seconds` until it finishes; its final status."""
    for _ in range(rounds):
        status = await call(client, "get_parallel_group_status", {"group_id": group_id, "wait_seconds": 10})
        if status["finished"]:
            return status
    raise AssertionError(f"group {group_id} did not finish: {status['counts']}")


def attempts_of(status: dict[str, Any], task: str) -> list[tuple[str, str, str | None]]:
    """(model, outcome, error_class) of each attempt of one task, in order."""
    (entry,) = [t for t in status["tasks"] if t["id"] == task]
    return [(a["model"], a["outcome"], a["error_class"]) for a in entry["attempts"]]


def task_of(status: dict[str, Any], task: str) -> dict[str, Any]:
    (entry,) = [t for t in status["tasks"] if t["id"] == task]
    return entry


async def run_task(client: Client, repo: Path, task: str, **fields: Any) -> dict[str, Any]:
    """Submit one `tcoder_speed` task on `repo` (more task fields as given) and wait for it: the
    task's status."""
    submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
        "agent_type": "tcoder_speed", "task_description": task, "workspace": str(repo), **fields}]})
    (done,) = (await wait_finished(client, submitted["group_id"]))["tasks"]
    return dict(done)


async def run_validated(client: Client, repo: Path, task: str, **validate: Any) -> dict[str, Any]:
    """`run_task` with `validate` as given (2 rounds unless said)."""
    return await run_task(client, repo, task, validate={"max_rounds": 2, **validate})


@asynccontextmanager
async def served(tmp_path: Path) -> AsyncIterator[tuple[Any, Client]]:
    """A loopback provider and an in-process client of a server wired to it, its allowed root
    `tmp_path` (entered in the test's body: an async yield fixture breaks mcp 2.x's cancel scopes).
    The provider's recorded requests stay readable after the block."""
    from server.app import build_server
    from server.settings import load_settings
    from tests.scheduler.overlay import loop_env
    from tests.support.loopback_provider import LoopbackProvider

    with LoopbackProvider() as lp:
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            yield lp, client
