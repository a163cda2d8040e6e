"""The `continue_task` tool: a follow-up in a finished task's conversation, on its model (or a
stronger one), sending the previous exchange and only the workspace context not sent before.

The logic lives in `server.workflows.followup`; this wrapper converts errors and shapes the answer.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.errors import InputError
from server.state import AppState
from tools._shared import app_state, expected_errors, visible_task

__all__ = ["ContinueTaskOutput", "register"]


class ContinueTaskOutput(BaseModel):
    """context_sent: path:lines pieces new in this turn; cost: USD."""

    turn: int
    status: str
    model: str | None
    answer: str | None
    error: str | None
    prompt_tokens: int
    context_tokens: int
    context_sent: list[str]
    cost: float


async def continue_task(
    ctx: Context[AppState, Any],
    task_id: Annotated[str, Field(min_length=1, max_length=100)],
    message: Annotated[str, Field(min_length=1, max_length=50_000)],
    stronger: Annotated[bool, Field(description="Next stronger variant's model.")] = False,
) -> ContinueTaskOutput:
    """Follow up on a finished task on its model (stronger if asked or it failed), sending the
    exchange so far and only code not sent before; cost lands on the task."""
    from server.workflows.context_pieces import workspace_selector  # loaded when first called
    from server.workflows.followup import continue_task as continue_thread

    state = app_state(ctx)
    limit = state.settings.tool_time_limit_s
    with expected_errors():
        await visible_task(state.engine.store, task_id)
        try:  # a client cuts a call at about 60 s: answer within the server's tool time limit
            done = await asyncio.wait_for(continue_thread(state.engine, task_id, message, stronger=stronger,
                                                          select=workspace_selector(state.settings)), limit)
        except TimeoutError:
            raise InputError("message", f"the model did not answer within {limit:g}s (the server's "
                             "tool_time_limit_s); the call was stopped and settled — send it again or ask less") from None
    return ContinueTaskOutput(
        turn=done.turn, status=done.status, model=done.model_id, answer=done.text,
        error=done.error, prompt_tokens=done.prompt_tokens, context_tokens=done.context_tokens,
        context_sent=list(done.context_sent), cost=done.cost_usd,
    )


def register(mcp: MCPServer[AppState]) -> None:
    """Add `continue_task` to the server."""
    mcp.add_tool(
        continue_task, name="continue_task", title="Continue a finished task",
        annotations=ToolAnnotations(title="Continue a finished task", read_only_hint=False, destructive_hint=False,
                                    idempotent_hint=False, open_world_hint=True),
    )
