"""The `submit_parallel_tasks` tool: run a group of coding tasks at once, in the background.

Accepts the task lists users already write (`agent_type`, `task_description`, `priority`,
`timeout_seconds`, `tags`, and blocks such as `model_routing`, `routing`, `quality_gates`,
which are kept with the task, not rejected), plus `id` / `depends_on` for a DAG. Returns at
once with the group id and each task's plan; follow it with `get_parallel_group_status`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from server.errors import InputError
from server.scheduler.types import GroupInput, SubmitResult, TaskInput
from server.state import AppState
from server.validation import ALL_KINDS, allowed_roots, confine_path
from tools._shared import app_state, expected_errors
from tools.validate_workspace import client_roots

__all__ = ["SubmitOutput", "TaskSpec", "build_group_input", "register", "submit_parallel_tasks"]

_HINT_NAMES = (
    "urgent", "time_sensitive", "severity", "estimated_effort", "quality_requirement", "cost_sensitive",
    "enterprise_requirements", "quality_critical", "production_code", "performance_target",
    "context_tokens", "files", "complexity", "task_type",
)


class TaskSpec(BaseModel):
    """One task. Keys not listed here (e.g. model_routing, routing, quality_gates, component)
    are accepted and kept with the task as context."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    agent_type: str | None = Field(
        None, min_length=1, max_length=200,
        description="Agent type, e.g. 'aria_coder_backend' or 'aria_coder_backend_speed' (variant pinned); "
        "a trailing _N is a worker label. Omit to let the kind of work pick the agent.",
    )
    task_description: str = Field(
        min_length=1, max_length=50_000,
        validation_alias=AliasChoices("task_description", "description"),
        description="What to do, in a sentence or a paragraph ('description' is accepted too).",
    )
    id: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Your id for this task, for depends_on and in the status (default t1, t2, ...).",
    )
    depends_on: list[str] = Field(
        default_factory=list, max_length=500,
        description="Ids of tasks in this group that must succeed first; their outputs are passed as context.",
    )
    priority: int = Field(5, ge=0, le=10, description="0 (lowest) to 10 (highest); higher runs first among ready tasks.")
    timeout_seconds: float = Field(300, ge=1, le=86_400, description="Time limit for the task, from its first call.")
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    urgent: bool = Field(False, description="Needed soon: speed_first sends simple urgent work to _speed.")
    time_sensitive: bool = False
    severity: Literal["low", "medium", "high", "critical"] | None = Field(None, description="For bugs.")
    estimated_effort: Literal["trivial", "simple", "moderate", "complex", "very_complex"] | None = None
    quality_requirement: Literal["low", "standard", "high", "enterprise"] | None = None
    cost_sensitive: bool = False
    enterprise_requirements: bool = False
    quality_critical: bool = False
    production_code: bool = False
    performance_target: str | None = Field(None, max_length=50)
    context_tokens: int | None = Field(None, ge=0, le=10_000_000)
    files: list[str] = Field(
        default_factory=list, max_length=10_000,
        description="Files that matter, relative to the workspace, each optionally with a line range "
        "('src/app/auth.py:40-120'). With a workspace they are shown to the model first.",
    )
    context_budget_tokens: int | None = Field(
        None, ge=64, le=2_000_000,
        description="Tokens of workspace code the model may be shown (default: from the model's context "
        "window and the policy). Needs workspace.",
    )
    complexity: int | None = Field(None, ge=1, le=10, description="Explicit complexity 1-10.")
    task_type: str | None = Field(None, max_length=50)
    workspace: str | None = Field(
        None, max_length=4096,
        description="The git repository the task is about (inside the allowed roots). The server picks the "
        "code the model sees from it: the files named first, then the most relevant parts, within the budget.",
    )
    validate_: dict[str, Any] | bool | None = Field(
        None, alias="validate", description="Validation to run on the workspace after the task (stored)."
    )


class PlannedTaskOut(BaseModel):
    id: str = Field(description="The task's id within the group.")
    task_id: str | None = Field(description="Internal task id (None on a dry run).")
    agent_type: str
    agent_name: str = Field(description="Resolved agent and variant, e.g. 'aria_coder_backend_speed'.")
    variant: str
    model: str = Field(description="First-choice model id.")
    fallback_models: list[str]
    escalation: dict[str, list[str]]
    estimated_cost: float | None = Field(description="USD for one call on the first choice.")
    estimated_time: float = Field(description="Seconds for one call on the first choice.")
    priority: int
    depends_on: list[str]
    rationale: str


class SubmitOutput(BaseModel):
    group_id: str | None = Field(description="Id of the stored group (None on a dry run).")
    group_name: str
    status: str = Field(description="running, or planned for a dry run (nothing stored, nothing run).")
    strategy: str
    policy: str
    max_concurrent: int
    task_count: int
    estimated_total_cost: float | None = Field(description="Sum of the tasks' estimates; None if a price is unknown.")
    estimated_total_time: float = Field(description="Seconds, from the dependency graph and the concurrency.")
    budget_state: str = Field(description="ok, warn or stop (paid models paused).")
    warnings: list[str]
    tasks: list[PlannedTaskOut]
    next_step: str


def build_group_input(
    tasks: list[TaskSpec], *, group_name: str | None, routing_strategy: str | None, policy: str | None,
    max_concurrent: int | None, budget_usd: float | None, dry_run: bool, max_tasks: int,
) -> GroupInput:
    """The engine's input from the tool's arguments.

    Raises:
        InputError: more tasks than the server's cap.
    """
    if len(tasks) > max_tasks:
        raise InputError("tasks", f"{len(tasks)} tasks is more than this server accepts per group",
                         f"1 to {max_tasks} (server setting max_tasks_per_group)")
    converted = []
    for index, spec in enumerate(tasks):
        if spec.context_budget_tokens is not None and spec.workspace is None:
            raise InputError(f"tasks[{index}].context_budget_tokens", "needs a workspace to take code from",
                             "set workspace to the task's git repository, or drop context_budget_tokens")
        data = spec.model_dump(by_alias=True)
        hints = {name: data[name] for name in _HINT_NAMES if data.get(name) not in (None, False, [])}
        extra = dict(spec.model_extra or {})
        if spec.workspace is not None:
            extra["workspace"] = spec.workspace
        if spec.context_budget_tokens is not None:
            extra["context_budget_tokens"] = spec.context_budget_tokens
        validate = spec.validate_
        converted.append(TaskInput(
            agent_type=(spec.agent_type or "").strip(), description=spec.task_description, key=spec.id,
            priority=spec.priority, timeout_s=float(spec.timeout_seconds), tags=tuple(spec.tags),
            depends_on=tuple(spec.depends_on), hints=hints, context=extra,
            validate=({"enabled": validate} if isinstance(validate, bool) else validate)
            if validate is not None or spec.workspace is not None else None,
        ))
    request = {
        "tasks": [t.model_dump(by_alias=True, exclude_defaults=True) for t in tasks], "group_name": group_name,
        "routing_strategy": routing_strategy, "policy": policy, "max_concurrent": max_concurrent,
        "budget_usd": budget_usd, "dry_run": dry_run,
    }
    return GroupInput(
        tasks=tuple(converted), name=group_name, strategy=routing_strategy, policy=policy,
        max_concurrent=max_concurrent, budget_usd=budget_usd, dry_run=dry_run, request=request,
    )


def shape(result: SubmitResult) -> SubmitOutput:
    tasks = [
        PlannedTaskOut(
            id=t.key, task_id=t.task_id, agent_type=t.agent_type, agent_name=t.plan.agent_name,
            variant=t.plan.variant, model=t.plan.model_id, fallback_models=list(t.plan.fallback_model_ids),
            escalation={v: list(ms) for v, ms in t.plan.escalation}, estimated_cost=t.plan.estimated_cost,
            estimated_time=t.plan.estimated_time, priority=t.priority, depends_on=list(t.depends_on),
            rationale=t.plan.rationale,
        )
        for t in result.tasks
    ]
    if result.group_id is None:
        next_step = "Dry run: nothing was stored or run. Submit again without dry_run to run it."
    else:
        next_step = (f"Running in the background. Call get_parallel_group_status with group_id "
                     f"'{result.group_id}' (wait_seconds up to 300 to wait for progress).")
    return SubmitOutput(
        group_id=result.group_id, group_name=result.group_name, status=result.status,
        strategy=result.strategy, policy=result.policy, max_concurrent=result.max_concurrent,
        task_count=len(tasks), estimated_total_cost=result.estimated_cost,
        estimated_total_time=result.estimated_time, budget_state=result.budget_state,
        warnings=list(result.warnings), tasks=tasks, next_step=next_step,
    )


async def confine_workspaces(group: GroupInput, ctx: Context[AppState, Any]) -> GroupInput:
    """Resolve each task's `workspace` inside the allowed roots; a task that asks for validation
    gets a normalised spec: workspace, checks, max_rounds.

    Raises:
        WorkspaceError: a workspace outside the client's (or configured) roots.
    """
    if not any(t.validate or t.context.get("workspace") for t in group.tasks):
        return group
    state = app_state(ctx)
    roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
    tasks = []
    for index, task in enumerate(group.tasks):
        if task.context.get("workspace"):
            resolved = confine_path(str(task.context["workspace"]), roots, field=f"tasks[{index}].workspace")
            task = dataclasses.replace(task, context={**task.context, "workspace": str(resolved)})
        spec = dict(task.validate or {})
        workspace = task.context.get("workspace") or spec.get("workspace")
        if workspace is not None and spec.get("enabled", True) is not False:
            path = confine_path(str(workspace), roots, field=f"tasks[{index}].workspace")
            checks = spec.get("checks") or list(ALL_KINDS)
            unknown = [c for c in checks if c not in ALL_KINDS]
            if unknown:
                raise InputError(f"tasks[{index}].validate.checks", f"unknown check {unknown[0]!r}",
                                 ", ".join(ALL_KINDS))
            rounds = spec.get("max_rounds", 3)
            if not isinstance(rounds, int) or not 1 <= rounds <= 10:
                raise InputError(f"tasks[{index}].validate.max_rounds", f"{rounds!r} is out of range", "1 to 10")
            spec = {"workspace": str(path), "checks": list(checks), "max_rounds": rounds,
                    "timeout_s": float(spec.get("timeout_s", 300.0))}
            task = dataclasses.replace(task, validate=spec)
        tasks.append(task)
    return dataclasses.replace(group, tasks=tuple(tasks))


async def submit_parallel_tasks(
    ctx: Context[AppState, Any],
    tasks: Annotated[list[TaskSpec], Field(
        min_length=1, max_length=10_000,
        description="The tasks (1 to the server's max_tasks_per_group, default 500). Independent tasks run "
        "in parallel; use id + depends_on for an order.",
    )],
    group_name: Annotated[str | None, Field(
        max_length=200, description="A name to find the group by; must not match a group still running.",
    )] = None,
    routing_strategy: Annotated[str | None, Field(
        max_length=50,
        description="speed_first, cost_optimized, quality_first, balanced or intelligent_auto (= balanced).",
    )] = None,
    policy: Annotated[str | None, Field(
        max_length=50, description="normal, deep_research, code or ops: per-task cost and token caps.",
    )] = None,
    max_concurrent: Annotated[int | None, Field(
        ge=1, le=256, description="Calls of this group in flight at once (capped by the server's limit).",
    )] = None,
    budget_usd: Annotated[float | None, Field(
        gt=0, le=100_000, description="Spending cap for this group in USD; paid calls stop at it.",
    )] = None,
    dry_run: Annotated[bool, Field(description="Plan only: store nothing, run nothing.")] = False,
) -> SubmitOutput:
    """Run a group of coding tasks in parallel on the best-suited models, in the background.

    Returns at once with the group id and, per task, the chosen agent variant, model, estimated
    cost and time. Tasks run by priority as their dependencies succeed, within concurrency,
    rate and budget limits, retrying, falling back and escalating on failures. Follow with
    get_parallel_group_status; stop with cancel_parallel_group.
    """
    state = app_state(ctx)
    with expected_errors():
        group = build_group_input(
            tasks, group_name=group_name, routing_strategy=routing_strategy, policy=policy,
            max_concurrent=max_concurrent, budget_usd=budget_usd, dry_run=dry_run,
            max_tasks=state.settings.max_tasks_per_group,
        )
        group = await confine_workspaces(group, ctx)
        result = await state.require_engine().submit(group)
    return shape(result)


def register(mcp: MCPServer[AppState]) -> None:
    """Add `submit_parallel_tasks` to the server."""
    mcp.add_tool(
        submit_parallel_tasks,
        name="submit_parallel_tasks",
        title="Run coding tasks in parallel",
        annotations=ToolAnnotations(
            title="Run coding tasks in parallel",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
