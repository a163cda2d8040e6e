"""The `cancel_parallel_group` tool: stop a running group.

Calls in flight are cancelled (their attempts are recorded as `cancelled`, charged only what
the provider reported), and every task that had not finished is marked `cancelled`. Finished
tasks keep their results.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.errors import InputError
from server.state import AppState
from tools._shared import app_state, expected_errors

__all__ = ["CancelOutput", "register"]


class CancelOutput(BaseModel):
    group_id: str
    group_name: str
    status: str = Field(description="The group's status after the cancel.")
    cancelled_tasks: list[str] = Field(description="Ids of the tasks this call cancelled.")
    counts: dict[str, int] = Field(description="Tasks per status after the cancel.")


async def cancel_parallel_group(
    ctx: Context[AppState, Any],
    group_id: Annotated[str | None, Field(max_length=200, description="The group's id.")] = None,
    group_name: Annotated[str | None, Field(max_length=200, description="Or its name.")] = None,
) -> CancelOutput:
    """Cancel a running group: stop its calls in flight and mark unfinished tasks cancelled."""
    state = app_state(ctx)
    engine = state.engine
    with expected_errors():
        if not (group_id or group_name):
            raise InputError("group_id", "give group_id or group_name")
        record, moved = await engine.cancel(group_id or group_name or "")
        tasks = await state.store.list_tasks(record.id, preview_chars=1)
    keys = {t.id: t.key for t in tasks}
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    return CancelOutput(group_id=record.id, group_name=record.name, status=record.status,
                        cancelled_tasks=[keys.get(i, i) for i in moved], counts=counts)


def register(mcp: MCPServer[AppState]) -> None:
    """Add `cancel_parallel_group` to the server."""
    mcp.add_tool(
        cancel_parallel_group,
        name="cancel_parallel_group",
        title="Cancel a task group",
        annotations=ToolAnnotations(title="Cancel a task group", read_only_hint=False, destructive_hint=True,
                                    idempotent_hint=True, open_world_hint=False),
    )
