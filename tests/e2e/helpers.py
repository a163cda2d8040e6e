"""Helpers for end-to-end tests: an in-process MCP client on a server wired to the loopback provider."""

from __future__ import annotations

from typing import Any

from mcp import Client

__all__ = ["attempts_of", "call", "task_of", "wait_finished"]


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
