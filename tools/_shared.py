"""Helpers every tool wrapper uses: reach the app state, turn expected errors into `ToolError`,
find a task the caller may see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent

from server.errors import NotFoundError, PWMError
from server.state import AppState

if TYPE_CHECKING:  # the store loads with the server's state, not with the tool list
    from server.store import Store, TaskRecord

__all__ = ["app_state", "expected_errors", "summary_and_data", "visible_task"]


def summary_and_data(summary: str, data: dict[str, Any]) -> CallToolResult:
    """A reply whose data reaches the model in every client: the structured content, and the same
    data as compact JSON in a second text block after the summary (the MCP spec's backwards-
    compatible form). Claude Code hands its model the structured content alone; Claude Desktop and
    claude.ai hand theirs the text alone, so a summary by itself would hide every result there."""
    return CallToolResult(content=[TextContent(text=summary),
                                   TextContent(text=json.dumps(data, separators=(",", ":"), ensure_ascii=False))],
                          structured_content=data)


async def visible_task(store: Store, task_id: str) -> TaskRecord:
    """The task, when the caller may see its group; another user's task answers exactly like an
    unknown one.

    Raises:
        NotFoundError: no such task, or one of a group the caller may not see.
    """
    task = await store.get_task(task_id, preview_chars=1)
    try:
        await store.get_group(task.group_id)  # filtered by the caller (server.store.tokens)
    except NotFoundError:
        raise NotFoundError(f"no task with id {task_id!r}", kind="task", key=task_id) from None
    return task


def app_state(ctx: Context[Any, Any]) -> AppState:
    """The lifespan-owned `AppState` of the server handling this request."""
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - a wiring bug, not a user error
        raise RuntimeError("server lifespan did not provide an AppState")
    return state


@contextmanager
def expected_errors() -> Iterator[None]:
    """Re-raise our own errors as `ToolError`, the only text the client's model sees."""
    try:
        yield
    except PWMError as exc:
        raise ToolError(str(exc)) from exc
