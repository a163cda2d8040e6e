"""Turn a submission into routed task plans, before anything is stored.

`plan_task` is the one planning step: `submit_parallel_tasks` runs it for every task of a group
(through `plan_group`), and `route_task` runs it for one task as a preview, so the two cannot
disagree. `task_cost_cap` is the one place the per-task cost cap is computed.

Checks the whole group first (strategy, policy, ids, dependency graph, every agent type) so
a bad submission stores nothing; then analyses and routes each task. A task naming a workspace
is routed with what was learned in its repository (`server.perf.repos.repo_key`), and its plan
carries that key so each of its attempts records it. When budgets have paused paid models,
tasks are routed to local / free models; a task only paid models can serve keeps
its paid plan and fails at run time with the budget's own error, so the user sees why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from server.analysis.analyzer import analyze
from server.analysis.answer_form import answer_form, asks_for_overview
from server.analysis.tokens import count_tokens
from server.analysis.types import TaskAnalysis, TaskHints
from server.catalog.limits import limited_per_minute, request_ceiling
from server.catalog.schema import Catalog, ModelSpec, PolicySpec
from server.context import ContextOptions, default_budget, render_selection
from server.context.summary import SUMMARY_BUDGET
from server.context.waiting import deadline_after, select_in_time
from server.errors import InputError, NoRouteError
from server.perf.repos import repo_key
from server.routing.agents import parse_agent_type
from server.routing.router import Router
from server.routing.types import AgentRef, Plan, RouteRequest
from server.scheduler.dag import validate_dag
from server.scheduler.types import GroupInput, TaskInput, TaskPlan

__all__ = [
    "PlanContext",
    "PlannedGroup",
    "RoutedTask",
    "context_budget",
    "estimate_makespan",
    "plan_context",
    "plan_group",
    "plan_task",
    "plan_with_workspace",
    "plan_workspaces",
    "task_cost_cap",
    "task_keys",
]


@dataclasses.dataclass(frozen=True)
class PlannedGroup:
    strategy: str
    policy: str
    keys: tuple[str, ...]
    plans: tuple[TaskPlan, ...]
    order: tuple[str, ...]  # the keys in a topological order (dependencies first)
    context: PlanContext


@dataclasses.dataclass(frozen=True)
class PlanContext:
    """What every task of one submission is planned under (checked once for the group)."""

    strategy: str
    policy: str
    policy_spec: PolicySpec | None
    per_task_cap: float | None  # the configured per-task budget (settings)
    budget_paused: bool
    local_only: bool


@dataclasses.dataclass(frozen=True)
class RoutedTask:
    """One task's analysis, the router's plan, and the plan the runner keeps."""

    analysis: TaskAnalysis
    route: Plan
    plan: TaskPlan


def task_cost_cap(configured: float | None, policy: PolicySpec | None, caller: float | None = None) -> float | None:
    """The per-task cost cap: the tightest of the configured one, the policy's and the caller's."""
    caps = [c for c in (configured, policy.max_cost_per_task if policy else None, caller) if c is not None]
    return min(caps) if caps else None


def task_keys(tasks: Sequence[TaskInput]) -> list[str]:
    """The client's ids, else `t1`..`tn` by position (skipping any id the client already uses)."""
    taken = {t.key for t in tasks if t.key}
    keys: list[str] = []
    counter = 0
    for task in tasks:
        if task.key:
            keys.append(task.key)
            continue
        counter += 1
        while f"t{counter}" in taken:
            counter += 1
        keys.append(f"t{counter}")
    return keys


def plan_context(
    router: Router,
    *,
    strategy: str | None,
    policy: str | None,
    default_strategy: str,
    default_policy: str,
    per_task_cap: float | None,
    budget_paused: bool,
    local_only: bool = False,
) -> PlanContext:
    """Resolve the strategy and policy (the caller's, else the configured defaults).

    Raises:
        InputError: unknown strategy or policy (naming `routing_strategy` / `policy`).
    """
    name = policy or default_policy
    return PlanContext(
        strategy=router.strategy(strategy or default_strategy).name, policy=name,
        policy_spec=router.policy(name), per_task_cap=per_task_cap, budget_paused=budget_paused,
        local_only=local_only,
    )


def plan_task(
    task: TaskInput, context: PlanContext, *, catalog: Catalog, router: Router, require_available: bool = True,
    agent: AgentRef | None = None,
) -> RoutedTask:
    """Analyse and route one task: the single planning step behind `submit` and `route_task`
    (`agent`: its agent type, parsed already).

    When the budget has paused paid models and only paid models fit, the paid plan is kept (the
    ledger refuses the call at run time with the budget's own reason).

    Raises:
        InputError: unknown agent type (field `agent_type`) or another bad hint.
        NoRouteError: no usable model; the message lists why each was left out.
    """
    ref = agent
    if ref is None and task.agent_type:
        ref = parse_agent_type(task.agent_type, catalog)
    hints = TaskHints.from_mapping(task.hints, task.agent_type)
    spec = task.validate or {}
    workspace = task.context.get("workspace") or spec.get("workspace")
    request = RouteRequest(
        analysis=analyze(task.description, hints), agent=ref, strategy=context.strategy,
        policy=context.policy, hints=hints, min_variant=hints.min_variant, local_only=context.local_only,
        budget_paused=context.budget_paused,
        max_cost=task_cost_cap(context.per_task_cap, context.policy_spec, hints.max_cost),
        require_available=require_available,
        # Checked exactly when the engine will validate: a validate request with a workspace.
        checked=task.validate is not None and spec.get("enabled", True) is not False and bool(workspace),
        repo=repo_key(workspace) if workspace else None,
    )
    try:
        route = router.route(request)
    except NoRouteError:
        if not context.budget_paused:
            raise
        route = router.route(dataclasses.replace(request, budget_paused=False))
    temperature = context.policy_spec.temperature if context.policy_spec is not None else 0.2
    return RoutedTask(request.analysis, route, _task_plan(route, temperature, request.analysis.task_type))


def plan_group(
    group: GroupInput,
    *,
    catalog: Catalog,
    router: Router,
    default_strategy: str,
    default_policy: str,
    per_task_cap: float | None,
    budget_paused: bool,
    local_only: bool = False,
) -> PlannedGroup:
    """Validate and route every task of `group`.

    Raises:
        InputError: unknown strategy / policy / agent type, duplicate ids, unknown dependency
            or a cycle (naming the task).
        NoRouteError: some task has no usable model; the message lists why each was left out.
    """
    context = plan_context(
        router, strategy=group.strategy, policy=group.policy, default_strategy=default_strategy,
        default_policy=default_policy, per_task_cap=per_task_cap, budget_paused=budget_paused,
        local_only=local_only,
    )
    keys = task_keys(group.tasks)
    order = validate_dag(keys, {k: t.depends_on for k, t in zip(keys, group.tasks, strict=True)})
    agents: dict[str, AgentRef] = {}  # every agent type checked before any routing, each once
    for index, task in enumerate(group.tasks):
        try:
            if task.agent_type and task.agent_type not in agents:
                agents[task.agent_type] = parse_agent_type(task.agent_type, catalog)
        except InputError as exc:
            raise InputError(f"tasks[{index}].agent_type", exc.problem, exc.accepted) from None
    plans: list[TaskPlan] = []
    for index, task in enumerate(group.tasks):
        try:
            routed = plan_task(task, context, catalog=catalog, router=router, agent=agents.get(task.agent_type))
            plans.append(routed.plan)
        except NoRouteError as exc:
            raise NoRouteError(f"tasks[{index}] ({task.agent_type or 'auto'}): {exc}") from None
        except InputError as exc:
            raise InputError(f"tasks[{index}].{exc.field}", exc.problem, exc.accepted) from None
    return PlannedGroup(context.strategy, context.policy, tuple(keys), tuple(plans), tuple(order), context)


def _task_plan(plan: Plan, default_temperature: float, task_type: str = "") -> TaskPlan:
    return TaskPlan(
        agent=plan.agent,
        variant=plan.variant,
        agent_name=plan.agent_name,
        model_id=plan.model_id,
        fallback_model_ids=tuple(plan.fallback_model_ids),
        escalation=tuple((v, tuple(ms)) for v, ms in plan.escalation),
        estimated_cost=plan.estimated_cost,
        estimated_time=plan.estimated_time,
        input_tokens=plan.input_tokens,
        output_tokens=plan.output_tokens,
        max_tokens=plan.max_tokens,
        temperature=plan.temperature if plan.temperature is not None else default_temperature,
        rationale=plan.rationale,
        excluded=dict(plan.excluded),
        task_type=task_type,
        repo=plan.repo or "",
    )


def context_budget(catalog: Catalog, model_id: str, policy: PolicySpec | None, explicit: int | None,
                   fallbacks: Sequence[str] = ()) -> int:
    """A task's workspace budget: the caller's, else from what its first model takes in one request
    (its window, or a tokens-a-minute limit below it: `request_ceiling`) and the policy.

    A per-minute limit that leaves the first model less than half the context its window would
    (Groq's free plan: about 1,700 tokens instead of 32,000) makes it a poor first choice for
    work on code: the budget then follows the first of its variant's `fallbacks` that no such limit
    holds back, and the router passes the limited model over for that prompt. With no such
    fallback (only Groq keys) the limit's own budget stands, planning the answer at a quarter of the
    limit (the call still asks for all the room the prompt leaves)."""
    if explicit is not None:
        return int(explicit)
    policy_max = policy.max_tokens if policy else None

    def budget_of(model: ModelSpec) -> tuple[int, bool]:  # its budget, and whether a limit cut it short
        full = default_budget(model.context_window, model.max_output_tokens, policy_max)
        if not limited_per_minute(model, catalog):
            return full, False
        ceiling = request_ceiling(model, catalog)
        limited = default_budget(ceiling, min(model.max_output_tokens, ceiling // 4), policy_max)
        return limited, limited * 2 < full

    budget, held_back = budget_of(catalog.models[model_id])
    if held_back:
        for other_id in fallbacks:
            other = catalog.models.get(other_id)
            if other is not None and not (found := budget_of(other))[1]:
                return found[0]
    return budget


def context_mode(description: str, asked: str | None, validated: bool) -> str:
    """"code" or "summary": what the caller asked for, else a summary for a design request or a
    question about the whole repository that is not checked as a patch (`answer_form`), ranked
    code for anything else."""
    if asked in ("code", "summary"):
        return asked
    if validated:
        return "code"
    form = answer_form(description)
    return "summary" if form == "design" or asks_for_overview(description, form) else "code"


async def plan_with_workspace(
    task: TaskInput, context: PlanContext, *, catalog: Catalog, router: Router, options: ContextOptions,
    field_prefix: str = "", require_available: bool = True, deadline: float | None = None,
) -> tuple[RoutedTask, dict[str, Any] | None]:
    """`plan_task`, and for a task naming a (confined) workspace what its model will see — as
    stored with the task, `{"selection": {...}, "prompt": rendered text}` — with those tokens
    counted in the plan's input (and so its cost). The selection is made for the planned model's
    budget; if counting it moves the task to another model, once more for that one's. A validated
    task reads the committed tree at HEAD, which its check worktree is made from. A design request
    or a question about the whole repository that is not validated gets a summary of it instead of
    ranked code (`context_mode`), within `SUMMARY_BUDGET` unless the caller set a budget. The
    selection answers by `deadline` (event-loop time; default: `options.wait_s` from now), or a first index
    still running raises `WorkspaceError` and goes on (`server.context.waiting`).

    Raises:
        InputError / WorkspaceError: a bad `files` entry, budget or workspace (fields prefixed).
        NoRouteError: no usable model.
    """
    routed = plan_task(task, context, catalog=catalog, router=router, require_available=require_available)
    workspace = task.context.get("workspace")
    if not workspace:
        return routed, None
    if deadline is None:
        deadline = deadline_after(options.wait_s)
    chosen: dict[str, Any] | None = None
    validated = bool(task.validate and task.validate.get("workspace"))
    mode = context_mode(task.description, task.context.get("context_mode"), validated)
    explicit = task.context.get("context_budget_tokens")
    for _ in range(2):
        budget = context_budget(catalog, routed.plan.model_id, context.policy_spec, explicit,
                                routed.plan.fallback_model_ids)
        if mode == "summary" and explicit is None:
            budget = min(budget, SUMMARY_BUDGET)
        selection = await select_in_time(
            Path(str(workspace)), task.description, list(task.hints.get("files") or ()), budget, options,
            deadline=deadline, at_head=validated, field_prefix=field_prefix, mode=mode,
        )
        rendered = render_selection(selection)
        tokens = count_tokens("\n\n" + rendered) if rendered else 0  # as the prompt appends it
        # The selection replaces the per-file guess; context the caller says it adds stays.
        counted = dataclasses.replace(task, hints={
            **task.hints, "context_tokens": int(task.hints.get("context_tokens") or 0) + tokens})
        again = plan_task(counted, context, catalog=catalog, router=router, require_available=require_available)
        record = {**selection.as_dict(), "commit": selection.commit, "repo_tokens": selection.repo_tokens}
        chosen = {"selection": record, "prompt": rendered}
        moved = again.plan.model_id != routed.plan.model_id
        routed = again
        if not moved:
            break
    return routed, chosen


async def plan_workspaces(
    group: GroupInput, planned: PlannedGroup, *, catalog: Catalog, router: Router, options: ContextOptions,
) -> tuple[PlannedGroup, list[dict[str, Any] | None]]:
    """Every task naming a workspace planned again with its selection counted
    (`plan_with_workspace`); the group's plans and, per task, its context (None without one).

    Raises:
        InputError / WorkspaceError / NoRouteError: naming the task.
    """
    plans = list(planned.plans)
    out: list[dict[str, Any] | None] = []
    deadline = deadline_after(options.wait_s)  # one for the whole call: the tasks share its time
    for index, task in enumerate(group.tasks):
        if not task.context.get("workspace"):
            out.append(None)
            continue
        try:
            routed, chosen = await plan_with_workspace(task, planned.context, catalog=catalog, router=router,
                                                       options=options, field_prefix=f"tasks[{index}].",
                                                       deadline=deadline)
        except NoRouteError as exc:
            raise NoRouteError(f"tasks[{index}] ({task.agent_type or 'auto'}): {exc}") from None
        plans[index] = routed.plan
        out.append(chosen)
    return dataclasses.replace(planned, plans=tuple(plans)), out


def estimate_makespan(
    order: Sequence[str], durations: Mapping[str, float], depends_on: Mapping[str, Sequence[str]], concurrency: int
) -> float:
    """Expected wall time: the longer of the critical path and total work over the concurrency
    (`order`: the tasks in a topological order, as `PlannedGroup.order`)."""
    finish: dict[str, float] = {}
    for key in order:
        start = max((finish[d] for d in depends_on.get(key, ())), default=0.0)
        finish[key] = start + durations[key]
    critical = max(finish.values(), default=0.0)
    return max(critical, sum(durations.values()) / max(1, concurrency))
