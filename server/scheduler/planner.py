"""Turn a submission into routed task plans, before anything is stored.

Checks the whole group first (strategy, policy, ids, dependency graph, every agent type) so
a bad submission stores nothing; then analyses and routes each task. When budgets have paused
paid models, tasks are routed to local / free models; a task only paid models can serve keeps
its paid plan and fails at run time with the budget's own error, so the user sees why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from server.analysis.analyzer import analyze
from server.analysis.types import TaskHints
from server.catalog.schema import Catalog
from server.errors import InputError, NoRouteError
from server.routing.agents import parse_agent_type
from server.routing.router import Router
from server.routing.types import Plan, RouteRequest
from server.scheduler.dag import bottom_levels, validate_dag
from server.scheduler.types import GroupInput, TaskInput, TaskPlan

__all__ = ["PlannedGroup", "estimate_makespan", "hints_of", "plan_group", "task_keys"]

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
            require_available=True, checked=task.validate is not None,
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
