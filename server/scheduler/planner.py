"""Turn a submission into routed task plans, before anything is stored.

Checks the whole group first (strategy, policy, ids, dependency graph, every agent type) so
a bad submission stores nothing; then analyses and routes each task. When budgets have paused
paid models, tasks are routed to local / free models; a task only paid models can serve keeps
its paid plan and fails at run time with the budget's own error, so the user sees why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from server.analysis.analyzer import analyze
from server.analysis.types import TaskHints
from server.catalog.schema import Catalog
from server.context import ContextOptions, default_budget, render_selection, select_context
from server.errors import InputError, NoRouteError
from server.routing.agents import parse_agent_type
from server.routing.router import Router
from server.routing.types import Plan, RouteRequest
from server.scheduler.dag import bottom_levels, validate_dag
from server.scheduler.types import GroupInput, TaskInput, TaskPlan

__all__ = ["PlannedGroup", "estimate_makespan", "hints_of", "plan_group", "select_task_contexts", "task_keys"]

_HINT_FIELDS = frozenset(f.name for f in dataclasses.fields(TaskHints))


@dataclasses.dataclass(frozen=True)
class PlannedGroup:
    strategy: str
    policy: str
    keys: tuple[str, ...]
    plans: tuple[TaskPlan, ...]
    depth: dict[str, int]


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


def hints_of(task: TaskInput) -> TaskHints:
    values: dict[str, Any] = {k: v for k, v in task.hints.items() if k in _HINT_FIELDS and v is not None}
    if "files" in values:
        values["files"] = tuple(values["files"])
    values["agent_type"] = task.agent_type or None
    return TaskHints(**values)


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
    strategy = router.strategy(group.strategy or default_strategy).name
    policy_name = group.policy or default_policy
    policy = router.policy(policy_name)
    keys = task_keys(group.tasks)
    validate_dag(keys, {k: t.depends_on for k, t in zip(keys, group.tasks, strict=True)})
    refs = []
    for index, task in enumerate(group.tasks):
        try:
            refs.append(parse_agent_type(task.agent_type, catalog) if task.agent_type else None)
        except InputError as exc:
            raise InputError(f"tasks[{index}].agent_type", exc.problem, exc.accepted) from None
    cap = per_task_cap
    if policy is not None:
        cap = policy.max_cost_per_task if cap is None else min(cap, policy.max_cost_per_task)
    plans: list[TaskPlan] = []
    for index, (task, ref) in enumerate(zip(group.tasks, refs, strict=True)):
        hints = hints_of(task)
        request = RouteRequest(
            analysis=analyze(task.description, hints), agent=ref, strategy=strategy, policy=policy_name,
            hints=hints, local_only=local_only, budget_paused=budget_paused, max_cost=cap,
            require_available=True,
        )
        try:
            plan = router.route(request)
            task_type = request.analysis.task_type
        except NoRouteError as exc:
            if not budget_paused:
                raise NoRouteError(f"tasks[{index}] ({task.agent_type or 'auto'}): {exc}") from None
            try:  # only paid models fit: plan them; the budget refuses the call with its reason
                plan = router.route(dataclasses.replace(request, budget_paused=False))
                task_type = request.analysis.task_type
            except NoRouteError as again:
                raise NoRouteError(f"tasks[{index}] ({task.agent_type or 'auto'}): {again}") from None
        except InputError as exc:
            raise InputError(f"tasks[{index}].{exc.field}", exc.problem, exc.accepted) from None
        plans.append(_task_plan(plan, policy.temperature if policy is not None else 0.2, task_type))
    depends = {k: t.depends_on for k, t in zip(keys, group.tasks, strict=True)}
    return PlannedGroup(strategy, policy_name, tuple(keys), tuple(plans), bottom_levels(keys, depends))


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
    )


def context_budget(catalog: Catalog, plan: TaskPlan, policy: str | None, explicit: int | None) -> int:
    """The task's workspace budget: the caller's, else from its first model's window and the policy."""
    if explicit is not None:
        return int(explicit)
    model = catalog.models[plan.model_id]
    spec = catalog.policies.get(policy) if policy else None
    return default_budget(model.context_window, model.max_output_tokens, spec.max_tokens if spec else None)


async def select_task_contexts(
    group: GroupInput, planned: PlannedGroup, *, catalog: Catalog, options: ContextOptions,
) -> list[dict[str, Any] | None]:
    """For each task naming a (confined) `workspace`: what its model will see, as stored with the
    task — `{"selection": {...}, "prompt": rendered text}`; None for a task without one.
    A validated task reads the committed tree at HEAD, which its check worktree is made from.

    Raises:
        InputError / WorkspaceError: a bad `files` entry, budget or workspace (naming the task).
    """
    out: list[dict[str, Any] | None] = []
    for index, (task, plan) in enumerate(zip(group.tasks, planned.plans, strict=True)):
        workspace = task.context.get("workspace")
        if not workspace:
            out.append(None)
            continue
        budget = context_budget(catalog, plan, planned.policy, task.context.get("context_budget_tokens"))
        selection = await asyncio.to_thread(
            select_context, Path(str(workspace)), task.description, list(task.hints.get("files") or ()), budget,
            options, at_head=bool(task.validate and task.validate.get("workspace")), field_prefix=f"tasks[{index}].",
        )
        record = {**selection.as_dict(), "commit": selection.commit, "repo_tokens": selection.repo_tokens}
        out.append({"selection": record, "prompt": render_selection(selection)})
    return out


def estimate_makespan(
    keys: Sequence[str], durations: Mapping[str, float], depends_on: Mapping[str, Sequence[str]], concurrency: int
) -> float:
    """Expected wall time: the longer of the critical path and total work over the concurrency."""
    finish: dict[str, float] = {}
    for key in validate_dag(list(keys), depends_on):
        start = max((finish[d] for d in depends_on.get(key, ())), default=0.0)
        finish[key] = start + durations[key]
    critical = max(finish.values(), default=0.0)
    return max(critical, sum(durations.values()) / max(1, concurrency))
