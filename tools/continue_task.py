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
    next_step: str | None = None


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
    runs = state.follow_ups
    with expected_errors():
        await visible_task(state.engine.store, task_id)
        key = runs.key_of(message, stronger)
        running = runs.get(task_id)
        if running is not None and running.key != key and not running.task.done():
            raise InputError("task_id", "a follow-up of this task is still being answered (a thread takes one "
                             "turn at a time)", "call continue_task again with that follow-up's message and "
                             "stronger flag to wait for its answer, then send this one")
        if running is not None and running.key != key:
            runs.collected(running)  # finished and never collected: this message comes after it
        run = runs.start(task_id, key, lambda: continue_thread(state.engine, task_id, message, stronger=stronger,
                                                               select=workspace_selector(state.settings)))
        try:  # a client cuts a call at about 60 s: answer within the server's tool time limit
            done = await asyncio.wait_for(asyncio.shield(run.task), limit)
        except TimeoutError:
            return ContinueTaskOutput(
                turn=0, status="running", model=None, answer=None, error=None, prompt_tokens=0, context_tokens=0,
                context_sent=[], cost=0.0,
                next_step=f"The model is still answering (over the server's tool_time_limit_s, {limit:g}s). Call "
                          "continue_task again with the same task_id, message and stronger to wait for the answer "
                          "(it is not sent twice).")
        finally:
            if run.task.done():
                runs.collected(run)
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
