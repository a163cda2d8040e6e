"""A group's status as plain records: per task its path and cost, totals, progress, budget.

Read from the store (the truth, also for groups another process ran or that finished before a
restart). Counts and totals are SQL aggregates; tasks come one page at a time, so a reply's size
does not grow with the group. Results are cut to `max_result_chars`; `result_next_offset` says where the rest
starts (`get_task_result` reads it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server.formatting import usd
from server.scheduler.dag import TERMINAL
from server.scheduler.types import TaskPlan, stored_workspace_context
from server.store import (
    GROUP_FINISHED_STATUSES,
    AttemptRecord,
    BudgetLimits,
    BudgetStatus,
    GroupRecord,
    Store,
    TaskRecord,
)

__all__ = ["AttemptView", "GroupView", "TaskView", "budget_warnings", "finished_count", "group_view"]


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
    blocked_by: list[str] = field(default_factory=list)  # dependencies that have not succeeded (yet)
    follow_ups: int = 0  # continue_task turns so far (a finished task can be continued)


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
    tasks: list[TaskView] = field(default_factory=list)  # one page
    tasks_matching: int = 0  # tasks the page was cut from
    tasks_offset: int = 0
    tasks_next_offset: int | None = None  # where the next page starts; None: this is the last
    # file -> the tasks whose passing patches change it (only files more than one task changed)
    shared_files: dict[str, list[str]] = field(default_factory=dict)
    # While running: the instance running it and its lease (store/leases.py).
    lease: dict[str, object] | None = None


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


def _cost_of(a: AttemptRecord) -> tuple[float | None, str | None]:
    """An attempt's cost and where it came from; a call cut off before the provider reported its
    usage (cancelled, interrupted) is charged its reservation: that, "reserved"."""
    if a.cost_usd is None and a.charged_usd:
        return a.charged_usd, "reserved"
    return a.cost_usd, a.cost_source


def _cost_source(attempts: list[AttemptRecord]) -> str:
    sources = {_cost_of(a)[1] for a in attempts if a.status == "succeeded" and _cost_of(a)[1]}
    if not sources:
        return "reserved" if any(_cost_of(a)[1] == "reserved" for a in attempts) else "none"
    return str(sources.pop()) if len(sources) == 1 else "mixed"


def _diagnostic_line(d: dict[str, Any]) -> str:
    """`file:line: code message`, without the place when the tool named none (a failing test's name)."""
    where = f"{d.get('file')}:{d.get('line')}: " if d.get("file") else ""
    return f"{where}{d.get('code') or ''} {d.get('message')}".strip()


def _validation_summary(report_json: str) -> dict[str, Any]:
    """The parts of a validation report a status reader needs: verdict, each check, diagnostics."""
    data = json.loads(report_json)
    checks = [
        {"name": c.get("name"), "status": c.get("status"),
         "diagnostics": [_diagnostic_line(d) for d in c.get("diagnostics", [])[:10]],
         **({"skipped_reason": c["skipped_reason"]} if c.get("skipped_reason") else {})}
        for c in data.get("checks", [])
    ]
    summary = {"status": data.get("status"), "passed": data.get("passed", False), "checks": checks,
               "base_commit": data.get("base_commit"), "error": data.get("error")}
    if "files_changed" in data:
        summary["files_changed"] = data["files_changed"]
        summary["diff_stat"] = data.get("diff_stat")
    if "failing_before_the_patch" in data:  # tests that failed at the base commit too
        summary["failing_before_the_patch"] = data["failing_before_the_patch"][:20]
    if "agent" in data:  # agent mode: its steps (already bounded) and why it stopped
        summary["agent"] = data["agent"]
    return summary


def _task_view(
    task: TaskRecord, attempts: list[AttemptRecord], max_chars: int, reports: dict[int, str] | None = None,
    statuses: dict[str, str] | None = None, follow_ups: int = 0,
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
                        *_cost_of(a), a.input_tokens, a.output_tokens, a.latency_ms,
                        _validation_summary(reports[a.id]) if reports and a.id in reports else None)
            for a in attempts
        ],
        execution_time=execution, input_tokens=task.input_tokens, output_tokens=task.output_tokens,
        total_cost=task.cost_usd, cost_source=_cost_source(attempts), estimated_cost=plan.estimated_cost,
        result=result, result_chars=total, result_truncated=truncated,
        result_next_offset=len(result) if truncated and result is not None else None,
        error=task.error, error_class=task.error_class, context=_workspace_context(task.context_json),
        blocked_by=[d for d in task.depends_on if (statuses or {}).get(d, "succeeded") != "succeeded"],
        follow_ups=follow_ups,
    )


_CONTEXT_PIECES_SHOWN = 12


def _workspace_context(context_json: str | None) -> dict[str, Any] | None:
    """A compact view of the selection stored with the task (the full one stays in the store)."""
    selection = stored_workspace_context(context_json).get("selection")
    if not isinstance(selection, dict):
        return None
    files = selection.get("files") or []
    return {
        "pieces": [f"{f['path']}:{f['start_line']}-{f['end_line']}" for f in files[:_CONTEXT_PIECES_SHOWN]],
        "piece_count": len(files),
        **{k: selection.get(k) for k in ("total_tokens", "budget_tokens", "repo_tokens", "commit")},
        "mode": selection.get("mode") or "code",
    }


def finished_count(counts: Mapping[str, int]) -> int:
    """Tasks in a final status, from a group's counts by status."""
    return sum(n for status, n in counts.items() if status in TERMINAL)


def _limited(limits: BudgetLimits) -> bool:
    """Whether any budget period has a limit (without one, every period is ok: nothing to read)."""
    return any(x is not None for x in (limits.daily, limits.weekly, limits.monthly, limits.group))


async def group_view(
    store: Store, group_id: str, limits: Callable[[GroupRecord], BudgetLimits], *,
    max_result_chars: int, include_tasks: bool = True, task_status: str | None = None, offset: int = 0,
    limit: int = 20,
) -> GroupView:
    """The status of one group, read from the store: counts and totals always, and one page of
    its tasks (`limit` from `offset`; those in `task_status`, else all, needing attention first).
    `limits` gives the budget limits of the group's record as the snapshot reads it.

    The group, its totals and the page are one snapshot, and the engine stores a group's end in
    the transaction that finishes its last task: a reply in which every task is final says the
    group is, and a finished group never shows a task still running. Reads only what the reply
    needs: no budget read without a limit, no lease read once the group ended, no validation read
    when every task is on the page and none asked for one.
    """
    snap = await store.status_snapshot(
        group_id, status=task_status, offset=offset,
        limit=limit if include_tasks else 0, preview_chars=max_result_chars + 1,
    )
    record, totals, page, matching = snap.group, snap.totals, snap.page, snap.matching
    budget_limits = limits(record)
    done = finished_count(totals.by_status)
    views = []
    statuses: dict[str, str] = {}
    wanted = sorted({d for t in page for d in t.depends_on})
    if wanted:  # each item's blockers: its dependencies not succeeded
        statuses = await store.task_statuses(record.id, wanted)
    threads = await store.thread_turns([t.id for t in page])
    for task in page:
        reports = (
            {v.attempt_id: v.report_json for v in await store.list_validations(task_id=task.id)}
            if task.validate_json else {}
        )
        views.append(_task_view(task, snap.attempts.get(task.id, []), max_result_chars, reports, statuses,
                                threads.get(task.id, 0)))
    # The group's own spend is summed over its attempts (O(group)); it only matters against a limit.
    budget = (await store.budget_status(budget_limits, record.id if budget_limits.group is not None else None)
              if _limited(budget_limits) else BudgetStatus([], "ok"))
    end = record.finished_at or time.time()
    held = await store.group_lease(record.id) if record.status == "running" else None
    lease: dict[str, object] | None = None if held is None else {
        "owner": held.owner, "host": held.host, "lease_until": held.lease_until,
        "lease_seconds": held.lease_s, "poll_seconds": store.poll_s,
    }
    return GroupView(
        group_id=record.id, group_name=record.name, status=record.status, strategy=record.strategy,
        policy=record.policy, max_concurrent=record.max_concurrent,
        finished=record.status in GROUP_FINISHED_STATUSES, counts=dict(totals.by_status),
        progress=done / totals.tasks if totals.tasks else 1.0, total_cost=totals.cost_usd,
        input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
        attempts=totals.attempts, elapsed_seconds=max(0.0, end - record.created_at),
        budget_state=budget.state, budget_warnings=budget_warnings(budget), tasks=views,
        tasks_matching=matching, tasks_offset=offset,
        tasks_next_offset=offset + len(page) if include_tasks and offset + len(page) < matching else None,
        shared_files=await _shared_files(store, record.id) if include_tasks and not _unvalidated(page, totals.tasks)
        else {},
        lease=lease,
    )


def _unvalidated(page: list[TaskRecord], tasks: int) -> bool:
    """Every task of the group is on `page` and none asked for validation: it has no validations."""
    return len(page) == tasks and not any(t.validate_json for t in page)


async def _shared_files(store: Store, group_id: str) -> dict[str, list[str]]:
    """Files that the passing patches of more than one task change (they may conflict when applied),
    with those tasks' keys. Reads the group's validations only, not its tasks."""
    touched: dict[str, set[str]] = {}
    for v in await store.list_validations(group_id=group_id):
        if v.passed:
            for path in json.loads(v.report_json).get("files_changed", ()):
                touched.setdefault(path, set()).add(v.task_id)
    shared = {path: ids for path, ids in sorted(touched.items()) if len(ids) > 1}
    keys = {task_id: (await store.get_task(task_id)).key for task_id in set().union(*shared.values())}
    return {path: sorted(keys[i] for i in ids) for path, ids in shared.items()}
