"""The `submit_parallel_tasks` tool: run a group of coding tasks at once, in the background.

Accepts the task lists users already write (`agent_type`, `task_description`, `priority`,
`timeout_seconds`, `tags`, and blocks such as `model_routing`, `routing`, `quality_gates`,
which are kept with the task, not rejected), plus `id` / `depends_on` for a DAG. Returns at
once with the group id and each task's plan; follow it with `get_parallel_group_status`. With
`wait_seconds` it first waits for the group to finish (at most the server's tool time limit) and
carries that tool's reply in `group_status`: a short group takes one call, not two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from server.analysis.answer_form import answer_form
from server.errors import InputError
from server.state import AppState
from server.validation.model import ALL_KINDS
from server.validation.roots import allowed_roots, confine_path
from tools._inputs import (
    AGENT_TYPE_DOC,
    CONTEXT_BUDGET_DOC,
    CONTEXT_MODE_DOC,
    POLICY_DOC,
    STRATEGY_DOC,
    WORKSPACE_DOC,
    CallerHints,
    ContextMode,
    caller_hints,
)
from tools._shared import app_state, expected_errors, summary_and_data
from tools._task_keys import kept_keys_warning, misspelt_keys
from tools.get_parallel_group_status import (
    REPLY_CHARS,
    GroupStatusOutput,
    json_chars,
    progress,
    read_view,
    wait_until_finished,
)
from tools.get_parallel_group_status import fit as status_fit
from tools.get_parallel_group_status import shape as status_shape
from tools.get_parallel_group_status import summary as status_summary
from tools.surface import nearest_names
from tools.validate_workspace import client_roots

if TYPE_CHECKING:  # loaded with the server's state, not with the tool list
    from server.scheduler.status import GroupView
    from server.scheduler.types import GroupInput, SubmitResult

__all__ = [
    "SubmitOutput", "TaskSpec", "build_group_input", "confine_group", "confine_workspaces", "register",
    "submit_parallel_tasks",
]


def _hints_documented_once(schema: dict[str, Any]) -> None:
    """The hints are checked like route_task's but published only there (see `HINTS_DOC`): a task
    accepts extra keys, so the schema without them still accepts every valid task."""
    for name in CallerHints.model_fields:
        schema["properties"].pop(name, None)


class TaskSpec(CallerHints):
    """One task; also takes route_task's hints. Other keys (model_routing, ...) are kept with it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, json_schema_extra=_hints_documented_once)

    agent_type: str | None = Field(None, min_length=1, max_length=200, description=AGENT_TYPE_DOC)
    task_description: str = Field(
        min_length=1, max_length=50_000,
        validation_alias=AliasChoices("task_description", "description"),
        description="What to do ('description' is accepted too).",
    )
    id: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Your id, for depends_on (default t1, t2, ...).",
    )
    depends_on: list[str] = Field(
        default_factory=list, max_length=500,
        description="Ids that must succeed first; their outputs become context.",
    )
    priority: int = Field(5, ge=0, le=10, description="Higher runs first.")
    timeout_seconds: float = Field(300, ge=1, le=86_400, description="From the task's first call.")
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    workspace: str | None = Field(None, max_length=4096, description=WORKSPACE_DOC)
    context_budget_tokens: int | None = Field(None, ge=64, le=2_000_000, description=CONTEXT_BUDGET_DOC)
    context_mode: ContextMode | None = Field(None, description=CONTEXT_MODE_DOC)
    validate_: dict[str, Any] | bool | None = Field(
        None, alias="validate", description="Check the answer's patch in the workspace: true, or {checks, max_rounds}."
    )
    mode: Literal["patch", "agent"] | None = Field(
        None, description="agent: a tool-using agent in its own worktree of workspace; its diff is validated "
        "(limits: validate.agent max_turns, wall_time_s, max_cost_usd).",
    )


class PlannedTaskOut(BaseModel):
    id: str
    task_id: str | None = Field(description="None on a dry run.")
    agent_type: str
    agent_name: str
    variant: str
    model: str = Field(description="First choice.")
    fallback_models: list[str]
    escalation: dict[str, list[str]]
    estimated_cost: float | None
    estimated_time: float
    priority: int
    depends_on: list[str]
    rationale: str


class SubmitOutput(BaseModel):
    """The plan; costs in USD (None: a price is unknown), times in seconds."""

    group_id: str | None = Field(description="None on a dry run.")
    group_name: str
    status: str = Field(description="running, or planned (dry run: nothing stored or run); after a wait, the "
                        "group's status then (succeeded, failed or cancelled once it ended).")
    strategy: str
    policy: str
    max_concurrent: int
    task_count: int
    estimated_total_cost: float | None
    estimated_total_time: float
    budget_state: str = Field(description="ok, warn or stop (paid models paused).")
    warnings: list[str]
    tasks: list[PlannedTaskOut] = Field(description="The plan of the first tasks (all when few).")
    tasks_omitted: int = Field(0, description="Tasks left out of `tasks`; get_parallel_group_status pages them.")
    next_step: str
    group_status: dict[str, Any] | None = Field(
        None, description="With wait_seconds: get_parallel_group_status's reply after the wait.")


def build_group_input(
    tasks: list[TaskSpec], *, group_name: str | None, routing_strategy: str | None, policy: str | None,
    max_concurrent: int | None, budget_usd: float | None, dry_run: bool, max_tasks: int,
) -> GroupInput:
    """The engine's input from the tool's arguments.

    Raises:
        InputError: more tasks than the server's cap.
    """
    from server.scheduler.types import GroupInput, TaskInput

    if len(tasks) > max_tasks:
        raise InputError("tasks", f"{len(tasks)} tasks is more than this server accepts per group",
                         f"1 to {max_tasks} (server setting max_tasks_per_group)")
    slips = misspelt_keys(((spec.model_extra or {}).keys() for spec in tasks), TASK_FIELDS)
    if slips:
        field, _, problem = slips[0].partition(": ")
        raise InputError(field, "; ".join([problem, *slips[1:]]))
    converted = []
    for index, spec in enumerate(tasks):
        for name in ("context_budget_tokens", "context_mode"):
            if getattr(spec, name) is not None and spec.workspace is None:
                raise InputError(f"tasks[{index}].{name}", "needs a workspace to take code from",
                                 f"set workspace to the task's git repository, or drop {name}")
        hints = caller_hints(spec)
        extra = dict(spec.model_extra or {})
        if spec.workspace is not None:
            extra["workspace"] = spec.workspace
        if spec.context_budget_tokens is not None:
            extra["context_budget_tokens"] = spec.context_budget_tokens
        if spec.context_mode is not None:
            extra["context_mode"] = spec.context_mode
        validate = _caller_validate(spec.validate_, index)
        if spec.mode is not None:  # recorded, so a policy's default mode never overrides the caller's
            validate = {**(validate if isinstance(validate, dict) else {}), "mode": spec.mode}
        # "test_first": true (kept out of the schema, like the other extra keys: see the README)
        test_first = extra.pop("test_first", None)
        if test_first not in (None, True, False):
            raise InputError(f"tasks[{index}].test_first", f"{test_first!r} is not a boolean", "true or false")
        if test_first:
            validate = {**(validate if isinstance(validate, dict) else {}), "test_first": True}
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


def _field_names() -> tuple[str, ...]:
    names = ["test_first"]  # read from the extra keys (see build_group_input)
    for name, field in TaskSpec.model_fields.items():
        names.append(field.alias or name)
        choices = getattr(field.validation_alias, "choices", None) or ()
        names.extend(c for c in choices if isinstance(c, str))
    return tuple(dict.fromkeys(names))


TASK_FIELDS = _field_names()
"""Every key a task reads (its fields, their aliases, the hints, `test_first`)."""


# A submission of thousands of tasks answers with the plan of the first ones (the reply stays small).
LISTED_TASKS = 50


def shape(result: SubmitResult, status: GroupView | None = None) -> SubmitOutput:
    listed = result.tasks[:LISTED_TASKS]
    tasks = [
        PlannedTaskOut(
            id=t.key, task_id=t.task_id, agent_type=t.agent_type, agent_name=t.plan.agent_name,
            variant=t.plan.variant, model=t.plan.model_id, fallback_models=list(t.plan.fallback_model_ids),
            escalation={v: list(ms) for v, ms in t.plan.escalation}, estimated_cost=t.plan.estimated_cost,
            estimated_time=t.plan.estimated_time, priority=t.priority, depends_on=list(t.depends_on),
            rationale=t.plan.rationale,
        )
        for t in listed
    ]
    if result.group_id is None:
        next_step = "Dry run: nothing was stored or run. Submit again without dry_run to run it."
    elif status is not None and status.finished:
        next_step = f"Finished ({status.status}): the results are in group_status."
    else:
        next_step = (f"Running in the background. Call get_parallel_group_status with group_id "
                     f"'{result.group_id}' (wait_seconds up to 45 to wait for progress).")
    fitted = None if status is None else status_fit(status_shape(status), 0, REPLY_CHARS // 2)
    output = SubmitOutput(
        group_id=result.group_id, group_name=result.group_name, status=result.status if status is None else status.status,
        strategy=result.strategy, policy=result.policy, max_concurrent=result.max_concurrent,
        task_count=len(result.tasks), estimated_total_cost=result.estimated_cost,
        estimated_total_time=result.estimated_time, budget_state=result.budget_state,
        warnings=list(result.warnings), tasks=tasks, tasks_omitted=len(result.tasks) - len(tasks),
        next_step=next_step,
        group_status=None if fitted is None else fitted.model_dump(mode="json"),
    )
    # the plans of many tasks (or long rationales) beside a status: the list is cut to fit the reply
    while output.tasks and json_chars(output) > REPLY_CHARS:
        output = output.model_copy(update={"tasks": output.tasks[:-1], "tasks_omitted": output.tasks_omitted + 1})
    return output


def summary(output: SubmitOutput, status: GroupView | None = None) -> str:
    """The reply's first text block: a few lines; the plan (and the status after a wait) follows as
    JSON and as structured content."""
    cost = "unknown" if output.estimated_total_cost is None else f"${output.estimated_total_cost:.4f}"
    # An unnamed dry run is named "(dry run)" already: said once, not "Group (dry run) (dry run)".
    label = output.group_name if output.group_id is None and "dry run" in output.group_name else (
        f"{output.group_name} ({output.group_id or 'dry run'})")
    head = (f"Group {label}: {output.status}, {output.task_count} "
            f"tasks, estimated {cost} and {output.estimated_total_time:.0f}s.")
    shown = None if output.group_status is None else GroupStatusOutput.model_validate(output.group_status)
    after = [] if status is None else ["After the wait: " + status_summary(status, shown)]
    return "\n".join([head, *output.warnings, *after, output.next_step])


VALIDATE_KEYS = ("checks", "max_rounds", "timeout_s", "lint_scope", "test_scope", "mode", "agent", "test_first",
                 "workspace", "enabled")


def _caller_validate(validate: dict[str, Any] | bool | None, index: int) -> dict[str, Any] | bool | None:
    """The caller's `validate` with a lone check name taken as a list of one (`"checks": "test"`);
    a key it does not know is an error naming it, not an option silently dropped.

    Raises:
        InputError: an unknown key (the nearest known one suggested).
    """
    if not isinstance(validate, dict):
        return validate
    for key in validate:
        if key not in VALIDATE_KEYS:
            near = nearest_names(key, list(VALIDATE_KEYS))
            raise InputError(f"tasks[{index}].validate.{key}", "is not a validate option" + (
                f" (did you mean {near[0]!r}?)" if near else ""), ", ".join(VALIDATE_KEYS))
    checks = validate.get("checks")
    if isinstance(checks, str):
        validate = {**validate, "checks": [c.strip() for c in checks.split(",") if c.strip()]}
    return validate


async def confine_workspaces(group: GroupInput, ctx: Context[AppState, Any]) -> GroupInput:
    """Resolve each task's `workspace` inside the allowed roots; a task that asks for validation
    gets a normalised spec: workspace, checks, max_rounds (and lint_scope "all", test_scope "new"
    when asked).

    Raises:
        WorkspaceError: a workspace outside the client's (or configured) roots.
    """
    if not any(t.validate or t.context.get("workspace") for t in group.tasks):
        return group
    state = app_state(ctx)
    return confine_group(group, allowed_roots(await client_roots(ctx), state.settings.allowed_roots))


def confine_group(group: GroupInput, roots: Sequence[Path]) -> GroupInput:
    """`confine_workspaces` within known `roots` (route_task plans a task through this too).

    A task with a workspace is validated (its answer checked as a patch) unless the caller says
    `validate: false`, or says nothing and the task asks for prose (`answer_form`: a design, a
    review, an explanation).

    Raises:
        WorkspaceError: a workspace outside `roots`.
        InputError: a bad validate spec (naming the task's field).
    """
    tasks = []
    for index, task in enumerate(group.tasks):
        if task.context.get("workspace"):  # the code the model is shown comes from here
            resolved = confine_path(str(task.context["workspace"]), roots, field=f"tasks[{index}].workspace")
            task = dataclasses.replace(task, context={**task.context, "workspace": str(resolved)})
        if task.validate is None and task.context.get("workspace") and answer_form(task.description) != "change":
            tasks.append(task)  # a design, review or explanation: its answer is prose, not a patch to check
            continue
        spec = dict(task.validate or {})
        workspace = task.context.get("workspace") or spec.get("workspace")
        if spec.get("mode") == "agent" and workspace is None:
            raise InputError(f"tasks[{index}].workspace", "agent mode works in a git repository",
                             "the path of a repository inside the allowed roots")
        if spec.get("test_first") and (workspace is None or spec.get("mode") == "agent"):
            raise InputError(f"tasks[{index}].test_first", "test-first needs a workspace and patch mode",
                             "set workspace to the task's git repository (and leave mode unset)")
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
            agent = ({"mode": "agent", "agent": dict(spec.get("agent") or {})} if spec.get("mode") == "agent"
                     else {"mode": spec["mode"]} if spec.get("mode") else {})
            first = {"test_first": True} if spec.get("test_first") else {}
            scope = spec.get("lint_scope", "new")
            if scope not in ("new", "all"):
                raise InputError(f"tasks[{index}].validate.lint_scope", f"{scope!r} is not a lint scope",
                                 "new (findings the patch adds; the default) or all (every finding)")
            tests = spec.get("test_scope")
            if tests not in (None, "new", "all"):
                raise InputError(f"tasks[{index}].validate.test_scope", f"{tests!r} is not a test scope",
                                 "all (every failing test; the default) or new (only tests that passed before the patch)")
            scopes: dict[str, Any] = {"lint_scope": "all"} if scope == "all" else {}
            if spec.get("checks"):
                scopes["checks_named"] = True  # each kind named must run, not only some check
            if task.validate is None:  # checked because it names a workspace, not because the caller asked
                scopes["implicit"] = True  # its test scope follows its plan (the engine's _implicit_test_scope)
            if tests is not None:
                scopes["test_scope"] = tests
            spec = {"workspace": str(path), "checks": list(checks), "max_rounds": rounds,
                    "timeout_s": float(spec.get("timeout_s", 300.0)), **agent, **first, **scopes}
            task = dataclasses.replace(task, validate=spec)
        tasks.append(task)
    return dataclasses.replace(group, tasks=tuple(tasks))


async def submit_parallel_tasks(
    ctx: Context[AppState, Any],
    tasks: Annotated[list[TaskSpec], Field(
        min_length=1, max_length=10_000,
        description="Up to the server's max_tasks_per_group (500). Independent tasks run in parallel.",
    )],
    group_name: Annotated[str | None, Field(max_length=200, description="Unique among running groups.")] = None,
    routing_strategy: Annotated[str | None, Field(max_length=50, description=STRATEGY_DOC)] = None,
    policy: Annotated[str | None, Field(max_length=50, description=POLICY_DOC)] = None,
    max_concurrent: Annotated[int | None, Field(ge=1, le=256, description="Calls in flight at once.")] = None,
    budget_usd: Annotated[float | None, Field(gt=0, le=100_000, description="Paid calls stop at it.")] = None,
    dry_run: Annotated[bool, Field(description="Plan only: store nothing, run nothing.")] = False,
    wait_seconds: Annotated[float, Field(
        ge=0, le=300, description="Wait for the group to end, up to tool_time_limit_s (45 s); its status then "
        "comes in group_status.",
    )] = 0,
) -> Annotated[CallToolResult, SubmitOutput]:
    """Run coding tasks in parallel in the background; returns the group id and each task's plan.

    Tasks run by priority once their dependencies succeed, retrying, falling back and escalating
    on failure. Follow with get_parallel_group_status.
    """
    state = app_state(ctx)
    status = None
    with expected_errors():
        group = build_group_input(
            tasks, group_name=group_name, routing_strategy=routing_strategy, policy=policy,
            max_concurrent=max_concurrent, budget_usd=budget_usd, dry_run=dry_run,
            max_tasks=state.settings.max_tasks_per_group,
        )
        group = await confine_workspaces(group, ctx)
        result = await state.engine.submit(group)
        if wait_seconds > 0 and result.group_id is not None:
            await wait_until_finished(state, result.group_id, wait_seconds, ctx)
            status = await read_view(state, result.group_id, tasks=True)
    if status is not None:
        await ctx.report_progress(*progress(status))
    output = shape(result, status)
    kept = kept_keys_warning((spec.model_extra or {}).keys() - {"test_first"} for spec in tasks)
    if kept is not None:
        output.warnings.insert(0, kept)
    return summary_and_data(summary(output, status), output.model_dump(mode="json"))


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
