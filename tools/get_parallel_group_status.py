"""The `get_parallel_group_status` and `get_task_result` tools (both read-only).

Status: group counts, totals, progress and budget warnings always; then one page of tasks
(`limit` from `offset`, by default every status with those needing attention first, or only
`task_status`), each with its variant, model used, path of attempts, time, tokens, cost and
result (cut to the server's `max_result_chars`). The reply is a short summary and the data, as
structured content and as JSON text (`tools._shared.summary_and_data`); one page of tasks, its
results cut further when long and the page shortened if need be (`fit`), keeps it under about 6k
tokens whatever the group's size and its answers' length.
`wait_seconds` returns as soon as something changes (no polling loop: the engine signals each
committed change) or the group finishes. Budget warnings also go out as an MCP log message
when the client opted in to logging, and progress as MCP progress notifications when the
client sent a progress token.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from server.client_logging import send_client_log
from server.errors import InputError
from server.state import AppState
from tools._shared import app_state, expected_errors, summary_and_data, visible_task

if TYPE_CHECKING:  # loaded with the server's state, not with the tool list
    from server.scheduler.status import GroupView

__all__ = ["MAX_SLICE_CHARS", "PROGRESS_EVERY_S", "REPLY_CHARS", "GroupStatusOutput", "fit", "json_chars", "progress", "read_view",
           "register", "shape", "summary", "wait_until_finished"]

# One get_task_result slice: at most ~20k tokens even for dense text, well under clients' limits.
MAX_SLICE_CHARS = 60_000
# A status reply's data as JSON: about 6k tokens, under the 10k at which clients warn; results are
# cut to fit (never below MIN_RESULT_PREVIEW each), then the page is shortened.
REPLY_CHARS = 20_000
MIN_RESULT_PREVIEW = 400
PROGRESS_EVERY_S = 5.0  # while a call waits for a group: the longest silence between progress notifications


class AttemptOut(BaseModel):
    model: str
    provider: str
    variant: str | None
    outcome: str = Field(description="succeeded, failed, cancelled, interrupted or running.")
    error_class: str | None = None
    error: str | None = None
    cost: float | None = Field(description="USD; None while running or when unknown.")
    cost_source: str | None = Field(description="provider_reported, catalog, override, reserved (cut off: "
                                    "charged its reservation) or unknown.")
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    validation: dict[str, Any] | None = Field(
        None, description="When the task asked for validation: the checks run on this answer's patch "
        "in a temporary worktree (status, passed, each check with its diagnostics, base_commit).")


class CostData(BaseModel):
    input_tokens: int
    output_tokens: int
    total_cost: float = Field(description="USD charged to this task over all its attempts.")
    cost_source: str = Field(description="Where the cost of the successful call came from.")


class TaskStatusOut(BaseModel):
    id: str
    task_id: str
    status: str = Field(description="pending, queued, running, succeeded, failed, cancelled, timed_out or skipped.")
    agent_type: str
    agent_name: str
    variant: str
    model_used: str | None = Field(description="Model of the latest attempt.")
    priority: int
    depends_on: list[str]
    tags: list[str]
    attempts: list[AttemptOut] = Field(description="Every model call in order: the path taken.")
    execution_time: float | None = Field(description="Seconds since its first call started (to its end).")
    cost_data: CostData
    estimated_cost: float | None
    result: str | None
    result_truncated: bool
    result_chars: int | None = Field(description="Full length of the result.")
    result_next_offset: int | None = Field(
        description="When truncated: call get_task_result with this offset for the rest."
    )
    error: str | None
    error_class: str | None
    context: dict[str, Any] | None = Field(None, description="Workspace code shown to the model.")
    blocked_by: list[str] = Field(default_factory=list, description="Dependencies not (yet) succeeded.")
    follow_ups: int = 0


class LeaseOut(BaseModel):
    owner: str = Field(description="The server instance (store owner id) running the group.")
    host: str | None
    lease_until: float | None = Field(description="Unix time the lease ends unless renewed.")
    lease_seconds: float | None = Field(description="Lease length; another instance takes over after it.")
    poll_seconds: float = Field(description="How often instances renew leases and look for groups to take over.")


class GroupStatusOutput(BaseModel):
    """Costs in USD, times in seconds. Task status: pending, queued, running, succeeded, failed,
    cancelled, timed_out or skipped; attempts: every model call in order. A cut result
    (result_truncated) continues via get_task_result from result_next_offset."""

    group_id: str
    group_name: str
    status: str = Field(description="running, succeeded, failed or cancelled.")
    finished: bool
    progress: float = Field(ge=0, le=1, description="Share of tasks in a final status.")
    counts: dict[str, int] = Field(description="Tasks per status.")
    total_cost: float
    input_tokens: int
    output_tokens: int
    attempts: int
    elapsed_seconds: float
    strategy: str
    policy: str
    max_concurrent: int
    budget_state: str = Field(description="ok, warn, or stop (paid models paused).")
    budget_warnings: list[str]
    tasks: list[TaskStatusOut] = Field(description="One page of tasks (see tasks_matching, next_offset).")
    tasks_matching: int = Field(0, description="Tasks the page was taken from.")
    next_offset: int | None = Field(None, description="Offset of the next page; None: last page.")
    shared_files: dict[str, list[str]] = Field(
        default_factory=dict, description="Files more than one task's patch changes: apply those one by one.")
    lease: LeaseOut | None = Field(
        None, description="While running: the server instance running the group and its lease."
    )


class TaskResultOutput(BaseModel):
    task_id: str
    text: str
    offset: int
    total_chars: int
    next_offset: int | None = Field(description="Where the next slice starts; None when this is the end.")


def shape(view: GroupView) -> GroupStatusOutput:
    return GroupStatusOutput(
        group_id=view.group_id, group_name=view.group_name, status=view.status, finished=view.finished,
        progress=view.progress, counts=view.counts, total_cost=view.total_cost,
        input_tokens=view.input_tokens, output_tokens=view.output_tokens, attempts=view.attempts,
        elapsed_seconds=view.elapsed_seconds, strategy=view.strategy, policy=view.policy,
        max_concurrent=view.max_concurrent, budget_state=view.budget_state,
        budget_warnings=view.budget_warnings, tasks_matching=view.tasks_matching,
        next_offset=view.tasks_next_offset, shared_files=view.shared_files,
        lease=None if view.lease is None else LeaseOut.model_validate(view.lease),
        tasks=[
            TaskStatusOut(
                id=t.id, task_id=t.task_id, status=t.status, agent_type=t.agent_type, agent_name=t.agent_name,
                variant=t.variant, model_used=t.model_used, priority=t.priority, depends_on=t.depends_on,
                tags=t.tags,
                attempts=[
                    AttemptOut(model=a.model_id, provider=a.provider, variant=a.variant, outcome=a.outcome,
                               error_class=a.error_class, error=a.error_message, cost=a.cost_usd,
                               cost_source=a.cost_source, input_tokens=a.input_tokens,
                               output_tokens=a.output_tokens, latency_ms=a.latency_ms,
                               validation=a.validation)
                    for a in t.attempts
                ],
                execution_time=t.execution_time, context=t.context,
                cost_data=CostData(input_tokens=t.input_tokens, output_tokens=t.output_tokens,
                                   total_cost=t.total_cost, cost_source=t.cost_source),
                estimated_cost=t.estimated_cost, result=t.result, result_truncated=t.result_truncated,
                result_chars=t.result_chars, result_next_offset=t.result_next_offset, error=t.error,
                error_class=t.error_class, blocked_by=t.blocked_by, follow_ups=t.follow_ups,
            )
            for t in view.tasks
        ],
    )


def json_chars(data: BaseModel) -> int:
    """The length of `data` as the reply's compact JSON text."""
    return len(json.dumps(data.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False))


def fit(output: GroupStatusOutput, offset: int, budget_chars: int = REPLY_CHARS) -> GroupStatusOutput:
    """`output` within `budget_chars` of JSON: the page's results cut to an equal share of the room
    the rest leaves (each continues from its `result_next_offset` via get_task_result), then, if
    that is not enough, fewer tasks on the page (the rest from `next_offset`)."""
    size = json_chars(output)
    if size <= budget_chars:
        return output
    with_result = [t for t in output.tasks if t.result]
    room = budget_chars - (size - sum(len(json.dumps(t.result, ensure_ascii=False)) for t in with_result))
    share = max(MIN_RESULT_PREVIEW, room // max(1, len(with_result)))
    tasks = [t if t.result is None or len(t.result) <= share else
             t.model_copy(update={"result": t.result[:share], "result_truncated": True, "result_next_offset": share})
             for t in output.tasks]
    output = output.model_copy(update={"tasks": tasks})
    while len(output.tasks) > 1 and json_chars(output) > budget_chars:
        kept = output.tasks[:-1]
        output = output.model_copy(update={"tasks": kept, "next_offset": offset + len(kept)})
    return output


async def _log_warning(ctx: Context[AppState, Any], text: str) -> None:
    """An MCP log message at the level the client chose (see server.client_logging)."""
    await send_client_log(ctx, "warning", text)


async def get_parallel_group_status(
    ctx: Context[AppState, Any],
    group_id: Annotated[str | None, Field(max_length=200, description="From submit_parallel_tasks.")] = None,
    group_name: Annotated[str | None, Field(
        max_length=200, description="Or its name (the latest such group).",
    )] = None,
    wait_seconds: Annotated[float, Field(
        ge=0, le=300, description="Wait for a change or the end; 0 = now. At most the server's tool_time_limit_s "
        "(45 s): clients cut calls at ~60 s.",
    )] = 0,
    task_status: Annotated[str | None, Field(
        max_length=20, description="Only tasks in this status. Default: all, those needing attention first.",
    )] = None,
    offset: Annotated[int, Field(ge=0, description="Tasks to skip (next_offset of the last reply).")] = 0,
    limit: Annotated[int, Field(ge=1, le=100, description="Tasks per reply.")] = 20,
) -> Annotated[CallToolResult, GroupStatusOutput]:
    """Where a group stands: counts, cost, progress and a page of its tasks.

    With wait_seconds, answers as soon as something changes or the group finishes.
    """
    from server.store import TASK_STATUSES

    state = app_state(ctx)
    engine = state.engine
    with expected_errors():
        if not (group_id or group_name):
            raise InputError("group_id", "give group_id or group_name")
        if task_status is not None and task_status not in TASK_STATUSES:
            raise InputError("task_status", f"unknown task status {task_status!r}", ", ".join(TASK_STATUSES))
        record = await state.store.get_group(group_id or group_name or "")
        if wait_seconds > 0 and engine.is_running(record.id):
            totals = await state.store.group_totals(record.id)  # the counts alone: one index-only read
            await ctx.report_progress(*_progress_of(record.name, record.status, totals.by_status))
            await engine.wait_for_change(record.id, min(wait_seconds, state.settings.tool_time_limit_s))
        view = await read_view(state, record.id, tasks=True, task_status=task_status, offset=offset, limit=limit)
    await ctx.report_progress(*progress(view))
    for text in view.budget_warnings:
        await _log_warning(ctx, text)
    output = fit(shape(view), offset)
    return summary_and_data(summary(view, output), output.model_dump(mode="json"))


def summary(view: GroupView, shown: GroupStatusOutput | None = None) -> str:
    """The reply's first text block: a few lines; the data (`shown`, the page as fitted) follows as
    JSON and as structured content."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(view.counts.items()))
    lines = [f"Group {view.group_name} ({view.group_id}): {view.status}; {counts}; "
             f"${view.total_cost:.4f} over {view.attempts} calls."]
    listed, next_offset = (len(view.tasks), view.tasks_next_offset) if shown is None else (len(shown.tasks),
                                                                                         shown.next_offset)
    if listed:
        last = view.tasks_offset + listed
        lines.append(f"Tasks {view.tasks_offset + 1}-{last} of {view.tasks_matching} in the data"
                     + (f"; next_offset {next_offset}." if next_offset is not None else "."))
    lines.extend(view.budget_warnings)
    return "\n".join(lines)


async def wait_until_finished(
    state: AppState, group_id: str, seconds: float, ctx: Context[AppState, Any] | None = None,
) -> None:
    """Until the group finishes or `seconds` pass (at most the server's `tool_time_limit_s`),
    woken by each change the engine commits (no polling). With `ctx`, the counts go out as a
    progress notification at most every `PROGRESS_EVERY_S` while it waits (a client that resets
    its time limit on progress keeps the call open; one without a progress token gets nothing)."""
    engine = state.engine
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(seconds, state.settings.tool_time_limit_s)
    next_progress = loop.time() + PROGRESS_EVERY_S
    while engine.is_running(group_id) and (left := deadline - loop.time()) > 0:
        await engine.wait_for_change(group_id, left if ctx is None else min(left, next_progress - loop.time()))
        if ctx is not None and loop.time() >= next_progress and engine.is_running(group_id):
            next_progress = loop.time() + PROGRESS_EVERY_S
            record = await state.store.get_group(group_id)
            totals = await state.store.group_totals(group_id)  # the counts alone: one index-only read
            await ctx.report_progress(*_progress_of(record.name, record.status, totals.by_status))


async def read_view(
    state: AppState, group_id: str, *, tasks: bool, task_status: str | None = None, offset: int = 0, limit: int = 20,
) -> GroupView:
    """The group's status; its record is read in the status's own snapshot (no read of its own)."""
    from server.scheduler.status import group_view

    engine = state.engine
    return await group_view(state.store, group_id, lambda record: engine.budget_limits(record.budget_usd, record.policy),
                            max_result_chars=state.settings.max_result_chars, include_tasks=tasks,
                            task_status=task_status, offset=offset, limit=limit)


def progress(view: GroupView) -> tuple[float, float, str]:
    """(done, total, message) of a progress notification for the group."""
    return _progress_of(view.group_name, view.status, view.counts)


def _progress_of(name: str, status: str, counts: dict[str, int]) -> tuple[float, float, str]:
    from server.scheduler.status import finished_count

    total = sum(counts.values())
    done = finished_count(counts)
    return float(done), float(total), f"{name}: {done}/{total} tasks finished ({status})"


async def get_task_result(
    ctx: Context[AppState, Any],
    task_id: Annotated[str, Field(min_length=1, max_length=100, description="The task_id from the group status.")],
    offset: Annotated[int, Field(ge=0, description="Character offset to start from (result_next_offset).")] = 0,
    limit: Annotated[int | None, Field(
        ge=1, le=MAX_SLICE_CHARS, description="Characters to return (default: the server's max_result_chars).",
    )] = None,
) -> TaskResultOutput:
    """A slice of one task's full result, for results longer than the status shows."""
    state = app_state(ctx)
    with expected_errors():
        await visible_task(state.store, task_id)
        part = await state.store.task_result(task_id, offset, limit or state.settings.max_result_chars)
    return TaskResultOutput(task_id=part.task_id, text=part.text, offset=part.offset,
                            total_chars=part.total_chars, next_offset=part.next_offset)


def register(mcp: MCPServer[AppState]) -> None:
    """Add `get_parallel_group_status` and `get_task_result` to the server."""
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)
    mcp.add_tool(get_parallel_group_status, name="get_parallel_group_status", title="Status of a task group",
                 annotations=read_only.model_copy(update={"title": "Status of a task group"}))
    # Claude Code keeps a tool result inline up to this size (it spills larger ones to a file).
    mcp.add_tool(get_task_result, name="get_task_result", title="Read a task's full result",
                 annotations=read_only.model_copy(update={"title": "Read a task's full result"}),
                 meta={"anthropic/maxResultSizeChars": MAX_SLICE_CHARS + 2_000})
