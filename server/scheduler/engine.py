"""The engine: owns every running group, its background tasks and the call gate; the writer
of task state (the runner reports queued / started / finished through `TaskEvents`; a task's
move to `running` alone is stored by the runner, with its first attempt, in one transaction).

`submit` plans a group, stores it in one transaction and returns at once. A task becomes
ready (`queued`) when its dependencies have succeeded (a task whose dependency finished any
other way is `skipped`, and so are its own dependents); at most the group's `max_concurrent`
workers take ready tasks from a heap (priority, then the longest chain behind the task), each
reading its task's plan and its dependencies' results from the store on dispatch, so memory
and per-task work do not grow with the group. A state change is committed to the store before
anyone is told about it (`wait_for_change` wakes on each one): a task's outcome, the settlement
of the call that decided it, the skips or readiness it causes and, for the group's last task,
the group's end are one transaction. `cancel` stops
running calls (their attempts settle `cancelled`) and marks what had not run `cancelled`.
`aclose` stops the background work without losing it: interrupted calls settle as such and
their tasks go back to `queued`, so `resume` (called on the next start, after
`store.recover()`) picks every unfinished group up where it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from server.catalog.schema import Catalog, PolicySpec
from server.context import options_for, workspace_text_allowed
from server.formatting import usd
from server.routing.router import Router
from server.scheduler.answer_checks import with_dependency_patches
from server.scheduler.dag import SUCCESS, TERMINAL, TaskGraph, ancestors_in, bottom_levels
from server.scheduler.dependency_view import AFTER_DEPENDENCIES, code_after_dependencies
from server.scheduler.gate import CallGate, Limits
from server.scheduler.planner import estimate_makespan, plan_group, plan_workspaces, task_cost_cap
from server.scheduler.ports import CallObserver, Providers
from server.scheduler.prompt import PER_DEPENDENCY_CHARS, DependencyOutput, build_messages
from server.scheduler.runner import Job, Outcome, RunnerConfig, TaskRunner
from server.scheduler.test_first_run import run_test_first
from server.scheduler.types import GroupInput, PlannedTask, SubmitResult, TaskPlan, stored_workspace_context
from server.scheduler.validated import implicit_test_scope
from server.settings import Settings
from server.store import (
    BudgetLimits,
    DependencyView,
    GroupRecord,
    NewGroup,
    NewTask,
    Store,
    TaskMove,
    TaskRecord,
)

__all__ = ["Engine", "EngineConfig", "TaskTiming"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    max_concurrent: int = 8
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    # Length of a rate-limit "minute"; benchmarks compress time by shortening it.
    rate_window_s: float = 60.0
    # A task with other candidates leaves a model it would wait longer than this for.
    move_after_s: float = 0.5


@dataclass
class TaskTiming:
    """Where one task's wall time went (kept only when `collect_timings` is on)."""

    ready_at: float
    done_at: float = 0.0
    call_seconds: float = 0.0

    @property
    def overhead(self) -> float:
        return self.done_at - self.ready_at - self.call_seconds


@dataclass(eq=False)
class _Run:
    """One group this engine is running: per task only what scheduling needs (a task's plan,
    description and its dependencies' results are read from the store when it is dispatched)."""

    record: GroupRecord
    graph: TaskGraph
    ids: dict[str, str]  # task key -> task id
    priority: dict[str, int]
    position: dict[str, int]
    depth: dict[str, int]
    limits: BudgetLimits
    concurrency: int
    # Ready tasks, best first: (-priority, -depth, position, key).
    ready: list[tuple[int, int, int, str]] = field(default_factory=list)
    workers: set[asyncio.Task[None]] = field(default_factory=set)
    jobs: dict[str, Job] = field(default_factory=dict)  # the tasks being run, by key
    cancelled: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    # Outcomes of one group are written one writer at a time, so the last one knows it is the
    # last; the ones waiting for the writer are written together next (see `Engine._record`).
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)
    outbox: list[tuple[str, Outcome]] = field(default_factory=list)
    solo: bool = False  # a batch failed to write: from then on each outcome is written alone


class Engine:
    """Runs groups of tasks over the providers, recording everything in the store."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        store: Store,
        providers: Providers,
        router: Router,
        config: EngineConfig | None = None,
        rng: random.Random | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.providers = providers
        self.router = router
        self.config = config or EngineConfig(max_concurrent=settings.max_concurrent)
        self.gate = CallGate(
            self.config.max_concurrent, provider_limits=self._limits_of, model_limits=self._model_limits_of,
            rate_window_s=self.config.rate_window_s, move_after_s=self.config.move_after_s,
        )
        self.runner = TaskRunner(
            catalog=catalog, store=store, providers=providers, gate=self.gate, config=self.config.runner,
            rng=rng, observer=observer,
        )
        self._runs: dict[str, _Run] = {}
        self.timings: dict[str, TaskTiming] | None = {} if self.config.runner.collect_timings else None

    # -- limits ------------------------------------------------------------------------------

    def _limits_of(self, provider: str) -> Limits:
        spec = self.catalog.providers.get(provider)
        if spec is None:
            return Limits()
        return Limits(spec.max_concurrent, spec.max_concurrent_per_model, spec.requests_per_minute,
                      spec.tokens_per_minute)

    def _model_limits_of(self, provider: str, model_id: str) -> Limits:
        spec = self.catalog.models.get(model_id)
        if spec is None:
            return Limits()
        return Limits(requests_per_minute=spec.requests_per_minute, tokens_per_minute=spec.tokens_per_minute)

    def budget_limits(self, group_budget: float | None, policy: str | None) -> BudgetLimits:
        """Settings' budgets, the group's own budget and the tighter per-task cap."""
        budgets = self.settings.budgets
        return BudgetLimits(
            daily=budgets.daily, weekly=budgets.weekly, monthly=budgets.monthly, group=group_budget,
            per_task=task_cost_cap(budgets.per_task, self.catalog.policies.get(policy or "")),
            stop_at=budgets.stop_at, warn_at=budgets.warn_at,
        )

    # -- submission --------------------------------------------------------------------------

    async def submit(self, group: GroupInput) -> SubmitResult:
        """Plan, store and start a group; returns before any task runs.

        Raises:
            InputError: bad input (names the field); nothing is stored.
            NoRouteError: some task has no usable model; nothing is stored.
            StoreError: the database cannot be written.
        """
        limits = self.budget_limits(group.budget_usd, group.policy or self.settings.default_policy)
        budget = await self.store.budget_status(limits)
        planned = plan_group(
            group, catalog=self.catalog, router=self.router,
            default_strategy=self.settings.default_strategy, default_policy=self.settings.default_policy,
            per_task_cap=self.settings.budgets.per_task, budget_paused=budget.state == "stop",
            local_only=self.settings.local_only,
        )
        planned, contexts = await plan_workspaces(group, planned, catalog=self.catalog, router=self.router,
                                                  options=options_for(self.settings))
        group = dataclasses.replace(group, tasks=tuple(
            t if c is None else dataclasses.replace(t, context={**t.context, "workspace_context": c},
                                                    validate=_checked_at(t.validate, c["selection"]["commit"]))
            for t, c in zip(group.tasks, contexts, strict=True)))
        concurrency = min(group.max_concurrent or self.config.max_concurrent, self.config.max_concurrent)
        depends = {k: t.depends_on for k, t in zip(planned.keys, group.tasks, strict=True)}
        durations = {k: p.estimated_time for k, p in zip(planned.keys, planned.plans, strict=True)}
        costs = [p.estimated_cost for p in planned.plans]
        warnings = tuple(
            f"{p.name} budget at {p.fraction:.0%} of {usd(p.limit)}" + (" - paid models paused" if p.state == "stop" else "")
            for p in budget.periods if p.state != "ok" and p.fraction is not None and p.limit is not None
        )
        common = dict(
            strategy=planned.strategy, policy=planned.policy, max_concurrent=concurrency,
            estimated_cost=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            estimated_time=estimate_makespan(planned.order, durations, depends, concurrency),
            budget_state=budget.state, warnings=warnings,
        )
        if group.dry_run:
            tasks = tuple(
                PlannedTask(k, None, t.agent_type, p, t.depends_on, t.priority)
                for k, t, p in zip(planned.keys, group.tasks, planned.plans, strict=True)
            )
            return SubmitResult(None, group.name or "(dry run)", "planned", tasks=tasks, **common)  # type: ignore[arg-type]
        new_tasks = [
            NewTask(
                key=key, position=index, agent_type=task.agent_type, agent=plan.agent, variant=plan.variant,
                agent_name=plan.agent_name, description=task.description, priority=task.priority,
                timeout_s=task.timeout_s, tags=list(task.tags), depends_on=list(task.depends_on),
                plan_json=plan.to_json(),
                context_json=json.dumps({"hints": task.hints, **task.context}) if (task.hints or task.context) else None,
                validate_json=json.dumps(task.validate) if task.validate is not None else None,
            )
            for index, (key, task, plan) in enumerate(zip(planned.keys, group.tasks, planned.plans, strict=True))
        ]
        record = await self.store.create_group(
            NewGroup(
                name=group.name, strategy=planned.strategy, policy=planned.policy, max_concurrent=concurrency,
                budget_usd=group.budget_usd, request_json=json.dumps(group.request, default=str),
            ),
            new_tasks,
        )
        run = await self._start(record)
        tasks = tuple(
            PlannedTask(k, run.ids[k], t.agent_type, p, t.depends_on, t.priority)
            for k, t, p in zip(planned.keys, group.tasks, planned.plans, strict=True)
        )
        return SubmitResult(record.id, record.name, "running", tasks=tasks, **common)  # type: ignore[arg-type]

    async def resume(self) -> list[str]:
        """Restart every unfinished group this store owns (after `store.recover()`); their ids."""
        resumed = []
        for record in await self.store.unfinished_groups():
            if record.id not in self._runs:
                await self._start(record)
                resumed.append(record.id)
        return resumed

    async def _start(self, record: GroupRecord) -> _Run:
        await self.store.queue_roots(record.id)
        index = await self.store.task_index(record.id)
        depends = {t.key: t.depends_on for t in index}
        run = _Run(
            record=record,
            graph=TaskGraph.build(depends, {t.key: t.status for t in index}),
            ids={t.key: t.id for t in index},
            priority={t.key: t.priority for t in index},
            position={t.key: t.position for t in index},
            depth=bottom_levels(list(depends), depends),
            limits=self.budget_limits(record.budget_usd, record.policy),
            concurrency=max(1, min(record.max_concurrent, self.config.max_concurrent)),
        )
        self._runs[record.id] = run
        self.gate.set_group_limit(record.id, record.max_concurrent)
        await self._skip_blocked(run)
        if run.graph.done():
            await self._finish(run)
        else:
            for key in depends:
                if run.graph.is_ready(key):
                    self._make_ready(run, key)
        return run

    # -- running -----------------------------------------------------------------------------

    async def _skip_blocked(self, run: _Run) -> None:
        """On (re)start: skip every unfinished task behind one that finished without success."""
        skipped: dict[str, str] = {}
        moves: list[TaskMove] = []
        for key, state in list(run.graph.status.items()):
            if state in TERMINAL and state != SUCCESS:
                for child, parent in run.graph.blocked_behind(key):
                    if child not in skipped:
                        skipped[child] = parent
                        moves.append(_skip_move(run, child, parent, skipped.get(parent) and "skipped"))
        for key, ok in zip(skipped, await self.store.move_tasks(moves), strict=True):
            if ok:
                run.graph.mark(key, "skipped")

    def _make_ready(self, run: _Run, key: str) -> None:
        """Queue a ready task; start a worker while the group has fewer than its concurrency."""
        heapq.heappush(run.ready, (-run.priority[key], -run.depth[key], run.position[key], key))
        if len(run.workers) < run.concurrency:
            worker = asyncio.create_task(self._worker(run), name=f"pwm-worker-{run.record.id}")
            run.workers.add(worker)
            worker.add_done_callback(run.workers.discard)

    async def _worker(self, run: _Run) -> None:
        """Run the group's ready tasks, best first, until none is left."""
        while run.ready and not run.cancelled:
            key = heapq.heappop(run.ready)[3]
            if run.graph.status[key] not in TERMINAL and key not in run.jobs:
                await self._work(run, key)

    async def _work(self, run: _Run, key: str) -> None:
        task_id = run.ids[key]
        ready_at = time.perf_counter()
        try:
            task, deps = await self.store.dispatch_view(task_id, PER_DEPENDENCY_CHARS, quick=self.gate.quiet)
            plan = TaskPlan.from_json(task.plan_json)
            validation = self.validation_of(task.validate_json, plan, task.description, run.record.policy)
            workspace_text = self._workspace_text(task.context_json, plan)
            if validation is not None and task.depends_on:
                ancestors = [await self.store.get_task(run.ids[k], preview_chars=1)
                             for k in ancestors_in(key, run.graph.depends_on)]
                validation, workspace_text = await self.after_dependencies(validation, workspace_text,
                                                                           task.context_json, ancestors)
            job = Job(
                key=key, task_id=task_id, group_id=run.record.id, priority=task.priority, depth=run.depth[key],
                timeout_s=task.timeout_s, plan=plan,
                messages=self.task_messages(plan, task.description, deps, workspace_text, validation),
                limits=run.limits,
                validation=validation,
            )
            run.jobs[key] = job
            try:
                if job.validation is not None and job.validation.get("test_first"):
                    outcome = await run_test_first(self.runner, job, self, cheap_tests=not self.settings.local_only)
                else:
                    outcome = await self.runner.run(job, self)
            except asyncio.CancelledError:
                await asyncio.shield(self._interrupted(run, key))
                raise
            if self.timings is not None:
                self.timings[task_id] = TaskTiming(ready_at, time.perf_counter(), outcome.call_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug or a dead database: record what we can, never hang the group
            log.exception("task %s crashed", task_id)
            try:
                await self._record(run, key, Outcome("failed", error="internal error (see server log)",
                                                     error_class="internal"))
            except Exception:
                log.exception("could not record the failure of task %s", task_id)
        finally:
            run.jobs.pop(key, None)

    def validation_of(self, validate_json: str | None, plan: TaskPlan, description: str,
                      policy: str) -> dict[str, Any] | None:
        """The checks a task's answer must pass as it runs: its request, with the policy's default
        mode and, when only its workspace asked for checks, the test scope of its kind of work."""
        return _implicit_test_scope(_default_mode(_validation_spec(validate_json), plan, self.catalog.policies.get(policy)),
                                    plan, description)

    async def after_dependencies(self, validation: dict[str, Any], workspace_text: str, context_json: str | None,
                                 ancestors: Sequence[TaskRecord]) -> tuple[dict[str, Any], str]:
        """A validated task's checks and workspace code once the tasks it depends on (`ancestors`,
        each after its own) ran: the passing patches of those validated in its workspace, to apply
        first (`with_dependency_patches`), and the code shown as they leave it (`dependency_view`)."""
        validation = await with_dependency_patches(
            validation, [(t.id, t.validate_json) for t in ancestors], self._full_result)
        if workspace_text and validation.get("after_patches"):
            workspace_text = await code_after_dependencies(
                workspace_text, stored_workspace_context(context_json).get("selection") or {},
                validation, self.config.runner.validation_env)
        return validation, workspace_text

    def task_messages(self, plan: TaskPlan, description: str, deps: Sequence[DependencyView], workspace_text: str,
                      validation: dict[str, Any] | None) -> list[dict[str, str]]:
        """A task's first prompt: its agent's role, the description with the workspace code and its
        dependencies' results, and, for a checked answer, the request for a patch. A follow-up's
        thread opens with the same (`server.workflows.followup`)."""
        agent = self.catalog.agents.get(plan.agent)
        return _with_patch_request(
            build_messages(agent.role_prompt if agent else "", description,
                           [DependencyOutput(d.key, d.description, d.result_head) for d in deps],
                           workspace_context=workspace_text),
            validation,
        )

    def _workspace_text(self, context_json: str | None, plan: TaskPlan) -> str:
        """The workspace code selected for the task at submission, unless local-only forbids it."""
        stored = stored_workspace_context(context_json)
        if not stored:
            return ""
        chain = [plan.model_id, *plan.fallback_model_ids, *(m for _, ms in plan.escalation for m in ms)]
        if not workspace_text_allowed(chain, self.catalog, self.settings.local_only):
            return ""
        return str(stored.get("prompt") or "")

    async def _full_result(self, task_id: str) -> str:
        return (await self.store.task_result(task_id, 0, 10_000_000)).text

    # -- task events (the runner reports; the engine alone writes task state) -----------------

    async def queued(self, job: Job) -> None:
        run = self._runs.get(job.group_id)
        if run is None or run.graph.status[job.key] != "pending":
            return
        if await self.store.transition_task(job.task_id, ("pending",), "queued"):
            run.graph.mark(job.key, "queued")
            self._notify(run)

    async def started(self, job: Job) -> None:
        """The runner stored the task's move to `running` with its first attempt: tell waiters."""
        run = self._runs.get(job.group_id)
        if run is not None and run.graph.status[job.key] in ("pending", "queued"):
            run.graph.mark(job.key, "running")
            self._notify(run)

    async def progress(self, job: Job) -> None:
        run = self._runs.get(job.group_id)
        if run is not None:
            self._notify(run)

    async def finished(self, job: Job, outcome: Outcome) -> None:
        run = self._runs.get(job.group_id)
        if run is not None:
            await self._record(run, job.key, outcome)

    async def _record(self, run: _Run, key: str, outcome: Outcome) -> None:
        """Write a task's outcome, the skips it causes and, when it is the group's last, the
        group's end, in one transaction; only then wake waiters and start what became ready.

        A group's outcomes are written one writer at a time (so the last one knows it is the
        last); those that finish while another is being written wait for it, and the next writer
        takes them all in one transaction (group commit: at 16 calls in flight on a loaded
        machine, the wait behind one write at a time was 60% of a task's latency)."""
        entry = (key, outcome)
        run.outbox.append(entry)
        try:
            async with run.writing:
                if not any(waiting is entry for waiting in run.outbox):
                    return  # written with an earlier writer's batch
                if run.solo:
                    batch = [entry]
                    run.outbox = [waiting for waiting in run.outbox if waiting is not entry]
                else:
                    batch, run.outbox = run.outbox, []
                try:
                    if len(batch) == 1:
                        await self._record_locked(run, key, outcome)
                    else:
                        await self._record_together(run, batch)
                except BaseException:
                    # Not written: the others go back to the outbox and are written one at a time
                    # by their own callers (one bad outcome no longer takes the batch down, and
                    # none returns as if written).
                    run.outbox[:0] = [waiting for waiting in batch if waiting is not entry]
                    run.solo = run.solo or len(batch) > 1
                    raise
        except asyncio.CancelledError:
            run.outbox = [waiting for waiting in run.outbox if waiting is not entry]
            raise

    def _outcome_moves(self, run: _Run, key: str, outcome: Outcome) -> tuple[list[str], list[TaskMove]]:
        """The task's move to its outcome, then the skips it causes or the children it makes
        ready (their keys, and the moves), as the graph stands."""
        status = outcome.status
        fields: dict[str, object] = {"error": outcome.error, "error_class": outcome.error_class}
        if outcome.text is not None:
            fields["result"] = outcome.text
        moves = [TaskMove(run.ids[key], ("queued", "running"), status, fields)]
        keys = [key]
        graph = run.graph
        if status != SUCCESS:
            for child, parent in graph.blocked_behind(key):
                moves.append(_skip_move(run, child, parent, status if parent == key else "skipped"))
                keys.append(child)
        elif not run.cancelled:  # children whose last dependency this was: queued in the same write
            for child in graph.children(key):
                if graph.status[child] == "pending" and graph.all_met_but(child, key):
                    moves.append(TaskMove(run.ids[child], ("pending",), "queued"))
                    keys.append(child)
        return keys, moves

    def _final_status(self, run: _Run, all_succeeded: bool | None = None) -> str:
        """The group's end: `all_succeeded` when the caller knows it before the graph does."""
        if all_succeeded is None:
            all_succeeded = run.graph.all_succeeded()
        return "cancelled" if run.cancelled else ("succeeded" if all_succeeded else "failed")

    async def _record_locked(self, run: _Run, key: str, outcome: Outcome) -> None:
        keys, moves = self._outcome_moves(run, key, outcome)
        graph = run.graph
        final: str | None = None
        if graph.finished_count() + sum(m.to_status in TERMINAL for m in moves) == len(graph.status):
            final = self._final_status(run, outcome.status == SUCCESS and graph.all_succeeded_but(key))
        applied = await self.store.move_tasks(moves, (run.record.id, final) if final else None,
                                              settle=outcome.settlement, quick=self.gate.quiet)
        outcome.settled = outcome.settlement is not None
        if not applied[0]:
            return
        for moved_key, move, ok in zip(keys, moves, applied, strict=True):
            if ok:
                graph.mark(moved_key, move.to_status)
        await self._after_write(run, [(key, outcome)], final is not None and all(applied))

    async def _record_together(self, run: _Run, batch: list[tuple[str, Outcome]]) -> None:
        """Several outcomes in one transaction, each planned on the graph as the ones before it
        leave it; if any task was moved by someone else meanwhile, one at a time instead."""
        graph = run.graph
        before: dict[str, str] = {}  # statuses as they are, restored after planning
        planned: list[tuple[list[str], list[TaskMove]]] = []
        for key, outcome in batch:
            keys, moves = self._outcome_moves(run, key, outcome)
            for moved_key, move in zip(keys, moves, strict=True):
                before.setdefault(moved_key, graph.status[moved_key])
                graph.mark(moved_key, move.to_status)
            planned.append((keys, moves))
        final = self._final_status(run) if graph.done() else None
        for moved_key, status in before.items():  # each count is a sum over tasks: exactly undone
            graph.mark(moved_key, status)
        applied = await self.store.move_task_batches(
            [(moves, outcome.settlement) for (_, moves), (_, outcome) in zip(planned, batch, strict=True)],
            (run.record.id, final) if final else None, quick=self.gate.quiet,
        )
        if applied is None:
            for key, outcome in batch:
                await self._record_locked(run, key, outcome)
            return
        for (keys, moves), oks, (_, outcome) in zip(planned, applied, batch, strict=True):
            outcome.settled = outcome.settlement is not None
            for moved_key, move, ok in zip(keys, moves, oks, strict=True):
                if ok:
                    graph.mark(moved_key, move.to_status)
        await self._after_write(run, batch, final is not None and all(all(oks) for oks in applied))

    async def _after_write(self, run: _Run, written: list[tuple[str, Outcome]], group_ended: bool) -> None:
        """Outcomes are stored: end the group if they were its last, else start what became ready."""
        graph = run.graph
        if group_ended:
            self._ended(run)
            return
        if graph.done():
            await self._finish(run)
            return
        if not run.cancelled:
            for key, outcome in written:
                if outcome.status == SUCCESS:
                    for child in graph.children(key):
                        if graph.is_ready(child) and child not in run.jobs:
                            self._make_ready(run, child)
        self._notify(run)

    async def _interrupted(self, run: _Run, key: str) -> None:
        task_id = run.ids[key]
        if run.cancelled:
            if await self.store.transition_task(task_id, ("pending", "queued", "running"), "cancelled",
                                                error="cancelled by the user", error_class="cancelled"):
                run.graph.mark(key, "cancelled")
        else:  # shutting down: leave it to resume on the next start
            await self.store.transition_task(task_id, ("running",), "queued")

    async def _finish(self, run: _Run) -> None:
        """Store the group's end, then wake its waiters (never the other way round)."""
        run.finished.set()
        await self.store.finish_group(run.record.id, self._final_status(run))
        self._ended(run)

    def _ended(self, run: _Run) -> None:
        """The group's end is stored: forget it and wake its waiters."""
        run.finished.set()
        self.gate.set_group_limit(run.record.id, None)
        self._runs.pop(run.record.id, None)
        self._notify(run)

    def _notify(self, run: _Run) -> None:
        run.changed.set()
        run.changed = asyncio.Event()

    # -- control -----------------------------------------------------------------------------

    async def cancel(self, id_or_name: str) -> tuple[GroupRecord, list[str]]:
        """Cancel a running group: stop its calls, mark every unfinished task `cancelled`.

        Returns the group and the ids of the tasks it cancelled.

        Raises:
            NotFoundError: no such group.
        """
        record = await self.store.get_group(id_or_name)
        run = self._runs.get(record.id)
        before = {t.id for t in await self.store.list_tasks(record.id, preview_chars=1) if t.status not in TERMINAL}
        if run is not None:
            run.cancelled = True
            workers = list(run.workers)
            for job in run.jobs.values():
                job.cancelled_by_user = True
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await self.store.transition_group_tasks(
            record.id, ("pending", "queued", "running"), "cancelled",
            error="cancelled by the user", error_class="cancelled",
        )
        after = {t.id: t.status for t in await self.store.list_tasks(record.id, preview_chars=1)}
        cancelled = [task_id for task_id in before if after.get(task_id) == "cancelled"]
        if run is not None:
            for key, task_id in run.ids.items():
                run.graph.mark(key, after.get(task_id, "cancelled"))
            if not run.finished.is_set():
                await self._finish(run)
        elif record.status == "running":
            await self.store.finish_group(record.id, "cancelled")
        return await self.store.get_group(record.id), cancelled

    async def wait_for_change(self, group_id: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until something in the group changes or it finishes; False on timeout."""
        run = self._runs.get(group_id)
        if run is None or timeout <= 0:
            return run is None
        event = run.changed
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def is_running(self, group_id: str) -> bool:
        return group_id in self._runs

    async def aclose(self) -> None:
        """Stop background work; interrupted tasks go back to `queued` for the next start."""
        workers = [w for run in self._runs.values() for w in run.workers]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self.runner.aclose()
        self._runs.clear()


def _skip_move(run: _Run, key: str, blocker: str, blocker_status: str | None) -> TaskMove:
    state = blocker_status or run.graph.status[blocker]
    return TaskMove(run.ids[key], ("pending", "queued"), "skipped",
                    {"error": f"dependency {blocker!r} {state}", "error_class": "dependency"})


def _checked_at(validate: dict[str, Any] | None, commit: str | None) -> dict[str, Any] | None:
    """A validated task's patch is checked on the commit its context was read from."""
    if not validate or not validate.get("workspace") or not commit:
        return validate
    return {**validate, "base": commit}


def _default_mode(spec: dict[str, Any] | None, plan: TaskPlan, policy: PolicySpec | None) -> dict[str, Any] | None:
    """Agent mode where the policy makes it the default for this kind of work and the task chose
    no mode of its own."""
    if spec is None or "mode" in spec or policy is None or plan.task_type not in policy.agent_task_types:
        return spec
    return {**spec, "mode": "agent"}


def _implicit_test_scope(spec: dict[str, Any] | None, plan: TaskPlan, description: str) -> dict[str, Any] | None:
    """A task checked only because it names a workspace gets its test scope from its plan's kind
    of work (`implicit_test_scope`), the caller having named none."""
    if spec is None or not spec.get("implicit") or "test_scope" in spec:
        return spec
    return {**spec, "test_scope": implicit_test_scope(description, plan.task_type)}


def _validation_spec(validate_json: str | None) -> dict[str, Any] | None:
    """The task's validation request, when it names a workspace (set by submit_parallel_tasks)."""
    if not validate_json:
        return None
    spec = json.loads(validate_json)
    return spec if isinstance(spec, dict) and spec.get("workspace") else None


# Either form a model may have been trained on: a unified diff, or SEARCH/REPLACE blocks, the edit
# format aider uses by default for most models (server.validation.edit_blocks reads them).
PATCH_REQUEST = (
    "\n\nAnswer with a single unified diff against {against}, in a ```diff "
    "block with --- a/ and +++ b/ paths relative to the repository root, or with SEARCH/REPLACE blocks "
    "(each: the file's path from the repository root alone on a line, then <<<<<<< SEARCH, lines copied "
    "exactly from the file, =======, the lines to put in their place, >>>>>>> REPLACE); for this task "
    "this replaces any other answer form asked for above. The change is applied in a clean checkout and "
    "must pass these checks: {checks}."
)


def _with_patch_request(messages: list[dict[str, str]], spec: dict[str, Any] | None) -> list[dict[str, str]]:
    """Ask for a patch when the answer will be validated (the checks run on the applied diff)."""
    if spec is None or spec.get("mode") == "agent":  # an agent changes files through its tools
        return messages
    last = dict(messages[-1])
    # checked on top of its dependencies' patches, and shown the code as they leave it (`dependency_view`)
    against = (f"the code shown above (the repository's HEAD {AFTER_DEPENDENCIES})" if spec.get("after_patches")
               else "the repository's current HEAD")
    last["content"] += PATCH_REQUEST.format(against=against, checks=", ".join(spec.get("checks") or ["all that apply"]))
    return [*messages[:-1], last]
