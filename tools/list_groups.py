"""The `list_groups` tool (read-only): recent task groups, newest first, a page at a time.

So work can be found again after the assistant's context was cleared: each group's id, name,
state, task counts, cost and creation time; follow one with `get_parallel_group_status`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.state import AppState
from tools._shared import app_state, expected_errors
from tools.surface import ToolServer

__all__ = ["GroupSummary", "ListGroupsOutput", "list_groups", "register"]


class GroupSummary(BaseModel):
    group_id: str
    name: str
    status: str
    counts: dict[str, int] = Field(description="Tasks per status.")
    cost_usd: float
    created: str = Field(description="ISO 8601, UTC.")


class ListGroupsOutput(BaseModel):
    groups: list[GroupSummary]
    next_offset: int | None = Field(description="Offset of the next page; None at the end.")


async def list_groups(
    ctx: Context[AppState, Any],
    status: Annotated[Literal["running", "succeeded", "failed", "cancelled"] | None, Field(
        description="Only groups in this state.")] = None,
    offset: Annotated[int, Field(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
) -> ListGroupsOutput:
    """Recent task groups, newest first: id, name, state, task counts, cost, creation time."""
    state = app_state(ctx)
    with expected_errors():
        records = await state.store.list_groups(limit=offset + limit + 1, status=status)
        page = records[offset:offset + limit]
        groups = []
        for record in page:
            totals = await state.store.group_totals(record.id)
            groups.append(GroupSummary(
                group_id=record.id, name=record.name, status=record.status, counts=dict(totals.by_status),
                cost_usd=round(totals.cost_usd, 6),
                created=dt.datetime.fromtimestamp(record.created_at, dt.UTC).isoformat(timespec="seconds"),
            ))
    more = len(records) > offset + limit
    return ListGroupsOutput(groups=groups, next_offset=offset + limit if more else None)


def register(mcp: ToolServer) -> None:
    """Add `list_groups` to the server."""
    mcp.add_tool(
        list_groups, name="list_groups", title="Recent task groups",
        annotations=ToolAnnotations(title="Recent task groups", read_only_hint=True, destructive_hint=False,
                                    idempotent_hint=True, open_world_hint=False),
    )
