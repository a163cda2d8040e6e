"""A group's status as plain records: per task its path and cost, totals, progress, budget.

Read from the store (the truth, also for groups another process ran or that finished before a
restart). Results are cut to `max_result_chars`; `result_next_offset` says where the rest
starts (`get_task_result` reads it).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from server.formatting import usd
from server.scheduler.dag import TERMINAL
from server.scheduler.types import TaskPlan
from server.store import (
    GROUP_FINISHED_STATUSES,
    AttemptRecord,
    BudgetLimits,
    BudgetStatus,
    GroupRecord,
    Store,
    TaskRecord,
)

__all__ = ["AttemptView", "GroupView", "TaskView", "budget_warnings", "group_view"]


@dataclass(frozen=True)
class AttemptView:
    model_id: str
    provider: str
    variant: str | None
    outcome: str
    error_class: str | None
    error_message: str | None
    cost_usd: float | None
    cost_source: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    validation: dict[str, Any] | None = None  # the checks run on this answer's patch, if asked


@dataclass(frozen=True)
class TaskView:
    id: str
    task_id: str
    status: str
    agent_type: str
    agent_name: str
    variant: str
    model_planned: str
    model_used: str | None
    priority: int
    depends_on: list[str]
    tags: list[str]
    attempts: list[AttemptView]
    execution_time: float | None
    input_tokens: int
    output_tokens: int
    total_cost: float
    cost_source: str
    estimated_cost: float | None
    result: str | None
    result_chars: int | None
    result_truncated: bool
    result_next_offset: int | None
    error: str | None
    error_class: str | None
    context: dict[str, Any] | None = None  # the workspace code the model was shown (server/context)


@dataclass(frozen=True)
class GroupView:
    group_id: str
    group_name: str
    status: str
    strategy: str
    policy: str
    max_concurrent: int
    finished: bool
    counts: dict[str, int]
    progress: float
    total_cost: float
    input_tokens: int
    output_tokens: int
    attempts: int
    elapsed_seconds: float
    budget_state: str
    budget_warnings: list[str]
    tasks: list[TaskView] = field(default_factory=list)


def budget_warnings(budget: BudgetStatus) -> list[str]:
    out = []
    for period in budget.periods:
        if period.state == "ok" or period.limit is None:
            continue
        used = period.spent + period.reserved
        text = f"{period.name} budget: {usd(used)} of {usd(period.limit)} used"
        if period.fraction is not None:
            text += f" ({period.fraction:.0%})"
        text += "; paid models paused" if period.state == "stop" else "; warn threshold reached"
        out.append(text)
    return out


def _cost_source(attempts: list[AttemptRecord]) -> str:
    sources = {a.cost_source for a in attempts if a.status == "succeeded" and a.cost_source}
    if not sources:
        return "none"
    return sources.pop() if len(sources) == 1 else "mixed"


def _validation_summary(report_json: str) -> dict[str, Any]:
    """The parts of a validation report a status reader needs: verdict, each check, diagnostics."""
    data = json.loads(report_json)
    checks = [
        {"name": c.get("name"), "status": c.get("status"),
         "diagnostics": [f"{d.get('file')}:{d.get('line')}: {d.get('code') or ''} {d.get('message')}".strip()
                         for d in c.get("diagnostics", [])[:10]]}
        for c in data.get("checks", [])
    ]
    return {"status": data.get("status"), "passed": data.get("passed", False), "checks": checks,
            "base_commit": data.get("base_commit"), "error": data.get("error")}


def _task_view(
    task: TaskRecord, attempts: list[AttemptRecord], max_chars: int, reports: dict[int, str] | None = None
) -> TaskView:
    plan = TaskPlan.from_json(task.plan_json)
    result = task.result_preview
    total = task.result_chars
    truncated = result is not None and total is not None and total > len(result)
    if result is not None and len(result) > max_chars:
        result, truncated = result[:max_chars], True
    execution = None
    if task.started_at is not None:
        execution = (task.finished_at or time.time()) - task.started_at
    return TaskView(
        id=task.key, task_id=task.id, status=task.status, agent_type=task.agent_type,
        agent_name=task.agent_name, variant=task.variant, model_planned=plan.model_id,
        model_used=task.model_used, priority=task.priority, depends_on=task.depends_on, tags=task.tags,
        attempts=[
            AttemptView(a.model_id, a.provider, a.variant, a.status, a.error_class, a.error_message,
                        a.cost_usd, a.cost_source, a.input_tokens, a.output_tokens, a.latency_ms,
                        _validation_summary(reports[a.id]) if reports and a.id in reports else None)
            for a in attempts
        ],
        execution_time=execution, input_tokens=task.input_tokens, output_tokens=task.output_tokens,
        total_cost=task.cost_usd, cost_source=_cost_source(attempts), estimated_cost=plan.estimated_cost,
        result=result, result_chars=total, result_truncated=truncated,
        result_next_offset=len(result) if truncated and result is not None else None,
        error=task.error, error_class=task.error_class, context=_workspace_context(task.context_json),
    )


def _workspace_context(context_json: str | None) -> dict[str, Any] | None:
    stored = json.loads(context_json).get("workspace_context") if context_json else None
    return stored.get("selection") if isinstance(stored, dict) else None


async def group_view(
    store: Store, record: GroupRecord, limits: BudgetLimits, *, max_result_chars: int,
    include_tasks: bool = True,
) -> GroupView:
    """The status of one group, read from the store.

    The tasks are read before the group: the engine stores a group's end in the transaction
    that finishes its last task, so a reply in which every task is final says the group is.
    When that transaction lands between the two reads, the tasks are read again, so a
    finished group never shows a task still running.
    """
    tasks = await store.list_tasks(record.id, preview_chars=max_result_chars + 1)
    record = await store.get_group(record.id)
    if record.status in GROUP_FINISHED_STATUSES and any(t.status not in TERMINAL for t in tasks):
        tasks = await store.list_tasks(record.id, preview_chars=max_result_chars + 1)
    attempts = await store.list_attempts(group_id=record.id) if include_tasks else []
    reports = (
        {v.attempt_id: v.report_json for v in await store.list_validations(group_id=record.id)}
        if include_tasks else {}
    )
    by_task: dict[str, list[AttemptRecord]] = {}
    for attempt in attempts:
        by_task.setdefault(attempt.task_id or "", []).append(attempt)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    done = sum(1 for t in tasks if t.status in TERMINAL)
    budget = await store.budget_status(limits, record.id)
    end = record.finished_at or time.time()
    return GroupView(
        group_id=record.id, group_name=record.name, status=record.status, strategy=record.strategy,
        policy=record.policy, max_concurrent=record.max_concurrent,
        finished=record.status in ("succeeded", "failed", "cancelled"), counts=counts,
        progress=done / len(tasks) if tasks else 1.0, total_cost=sum(t.cost_usd for t in tasks),
        input_tokens=sum(t.input_tokens for t in tasks), output_tokens=sum(t.output_tokens for t in tasks),
        attempts=sum(t.attempts for t in tasks), elapsed_seconds=max(0.0, end - record.created_at),
        budget_state=budget.state, budget_warnings=budget_warnings(budget),
        tasks=[_task_view(t, by_task.get(t.id, []), max_result_chars, reports) for t in tasks] if include_tasks else [],
    )
