"""Run one task to an outcome: the attempt loop.

For each candidate model (first choice, fallbacks, then escalation): skip it if the provider
is unavailable, the prompt does not fit its window, its price is unknown, or paid models are
paused by a budget; otherwise take a permit from the gate, reserve money (`begin_attempt`;
the task's first also moves it to `running`), call the backend, and settle the attempt from the
provider's usage (the call that decides a task's outcome is settled in the outcome's own
transaction: `Outcome.settlement`). Failures follow
`server.scheduler.retry`. Every attempt row is settled exactly once: succeeded, failed,
cancelled (the user cancelled the group) or interrupted (the server is shutting down; the
task is re-queued and resumes on the next start).

A model that cannot be called now (cooling down after a 429, or held by a rate limit) never
holds a task that another candidate could serve: the task leaves it (`_Defer`) for the next
candidate in chain order, and comes back to the one whose cool-down ends first only when
every other candidate is used up or cooling too. A call that timed out (hung, stalled) moves
on the same way to the next candidate of its tier rather than retrying the model that hung
(into another tier, e.g. free to paid, only once its retries are used up, as for any failure).

Two clocks bound a task. Its `timeout_s` counts time spent in calls only: waiting for a
permit or a backoff does not count, so a throttled task does not time out in the queue. Its
overall deadline, `overall_timeout_factor` x `timeout_s` from its first call, bounds the whole
run including waits, retries and validation. Each call has its own limits (first
byte, stall, total: `CallTimeouts`), the total at most a share of the task's timeout and never
more than the execution time left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server.agent import AgentReply, AgentResult
from server.backends.base import (
    Backend,
    CallTimeouts,
    ChatMessage,
    Completion,
    CompletionRequest,
    Message,
    ToolSpec,
    Usage,
)
from server.backends.clock import ScopeTimer
from server.backends.pricing import compute_cost
from server.catalog.limits import ceiling_words, request_ceiling
from server.catalog.schema import Catalog, ModelSpec
from server.errors import BackendError, BackendRateLimited, BackendTimeout, BudgetExceeded
from server.perf.stats import AttemptFact
from server.routing.costs import reservation_estimate
from server.scheduler.agent_mode import agent_reply, count_chat_tokens, run_agent_attempt, with_agent_report
from server.scheduler.answer_checks import check_task_answer
from server.scheduler.gate import Busy, CallGate
from server.scheduler.ports import CallObserver, Providers, TaskEvents
from server.scheduler.prompt import count_tokens, fit_max_tokens
from server.scheduler.retry import Candidate, RetryPolicy, candidate_chain, classify
from server.scheduler.types import TaskPlan
from server.scheduler.validated import feedback_messages
from server.store import AttemptSettlement, BudgetLimits, Store

__all__ = ["Job", "Outcome", "RunnerConfig", "TaskRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stall_timeout_s: float = 60.0  # the longest silence inside a stream (also until its first event)
    # One call's limits by phase, narrowed to each task (`CallTimeouts.within`) and to its time left.
    call_timeouts: CallTimeouts = field(default_factory=CallTimeouts)
    overall_timeout_factor: float = 3.0  # the whole run, from the first call: this x timeout_s
    allow_unknown_prices: bool = False
    collect_timings: bool = False
    # The environment validation checks start from (allow-listed again before any child runs).
    validation_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Job:
    """One task handed to the runner."""

    key: str  # the task's id within its group
    task_id: str
    group_id: str
    priority: int
    depth: int
    timeout_s: float
    plan: TaskPlan
    messages: list[dict[str, str]]
    limits: BudgetLimits
    cancelled_by_user: bool = False
    # {"workspace", "checks", "max_rounds", "timeout_s"}: the answer's patch must pass these checks.
    validation: dict[str, Any] | None = None
    last_attempt_id: int | None = None
    # Answered calls of a validated task, told to the observer once the checks' verdict is in.
    unchecked: list[AttemptFact] = field(default_factory=list)
    cache_prefix: bool = False  # a conversation resent with more at its end (a follow-up): mark it for caching


@dataclass
class Outcome:
    status: str  # succeeded | failed | timed_out | cancelled | interrupted
    text: str | None = None
    error: str | None = None
    error_class: str | None = None
    model_used: str | None = None
    call_seconds: float = 0.0  # time spent inside backend calls (for the overhead benchmark)
    # The call that decided a succeeded task's outcome, not yet settled: whoever records the
    # outcome writes it in the same transaction and sets `settled`; else the runner settles it.
    settlement: AttemptSettlement | None = None
    settled: bool = False
    # What follows a settlement (cost reconciliation, the observer), run once it is written.
    after_settle: Callable[[], None] | None = field(default=None, repr=False)


@dataclass
class _Progress:
    """What has been reported about the task so far."""

    queued: bool = False
    clock_started: bool = False
    started: bool = False  # the task's move to `running` is stored
    # A succeeded call's settlement, left for the outcome's transaction (see `Outcome.settlement`).
    settlement: AttemptSettlement | None = None
    after_settle: Callable[[], None] | None = None


class _Clock:
    """The task's two clocks (see the module docstring) on one timeout scope and one timer: the
    execution clock runs during calls only; the overall deadline, once started, always runs.

    The timer (`ScopeTimer`, as a call's clock uses) is set no later than the deadline the clocks
    give, so starting or pausing a call seldom moves it: it is first set for when the execution
    clock would end if it ran from then on (no deadline the clocks reach can be sooner), and set
    again when it fires early. Used as `async with`: the scope, raising `TimeoutError` when it
    expired."""

    def __init__(self, budget_s: float, factor: float) -> None:
        self._scope = asyncio.timeout(None)
        self.budget_s = budget_s
        self.left = budget_s
        self._factor = factor
        self._since: float | None = None
        self._overall_at: float | None = None
        self.call_seconds = 0.0
        self._loop = asyncio.get_running_loop()
        self._timer = ScopeTimer(self._deadline)
        self._timer.watch(self._scope)

    def start_overall(self) -> None:
        now = self._loop.time()
        self._overall_at = now + self.budget_s * self._factor
        self._timer.set(min(self._overall_at, now + self.left))

    def run(self) -> None:
        self._since = self._loop.time()
        ends = self._since + self.left
        set_for = self._timer.when()
        if set_for is None or set_for > ends:
            self._timer.set(ends if self._overall_at is None else min(ends, self._overall_at))

    def pause(self) -> None:
        if self._since is not None:
            self.left -= self._loop.time() - self._since
            self._since = None

    async def __aenter__(self) -> _Clock:
        await self._scope.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._timer.stop()
        await self._scope.__aexit__(*exc_info)  # raises TimeoutError if it expired

    def _deadline(self) -> float | None:
        running = None if self._since is None else self._since + self.left
        if running is None or self._overall_at is None:
            return running if self._overall_at is None else self._overall_at
        return min(running, self._overall_at)

    def expired(self) -> bool:
        return self._scope.expired()

    def timeout_message(self) -> str:
        overall_passed = self._overall_at is not None and self._loop.time() >= self._overall_at
        execution_left = self.left - (0.0 if self._since is None else self._loop.time() - self._since)
        if overall_passed and execution_left > 0:
            return f"task passed its overall deadline ({self.budget_s * self._factor:g}s)"
        return f"task timed out after {self.budget_s:g}s"


class _Next(Exception):
    """Give up on this candidate and move to the next one."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


class _Defer(_Next):
    """Leave this candidate for now (cooling down, or its call hung); it may be tried again."""


@dataclass
class _Call:
    """What the performance observer needs to know about a call, beyond the model (not frozen,
    as nothing changes it: one is built per call, see `server.scheduler.types.TaskPlan`)."""

    task_type: str
    agent: str
    variant: str
    provider: str
    repo: str = ""
    held: list[AttemptFact] | None = None  # a validated task's answers wait here for the verdict


@dataclass
class _Tries:
    """Per model: failed tries and rate-limit waits so far (they bound coming back to it)."""

    retries: dict[str, int] = field(default_factory=dict)
    rate_waits: dict[str, int] = field(default_factory=dict)


class TaskRunner:
    """Runs jobs; shared by every group of one engine."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: Store,
        providers: Providers,
        gate: CallGate,
        config: RunnerConfig,
        rng: random.Random | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.providers = providers
        self.gate = gate
        self.config = config
        self._rng = rng or random.Random()
        self.observer = observer
        self._reconciling: set[asyncio.Task[None]] = set()

    async def run(self, job: Job, events: TaskEvents) -> Outcome:
        """Try the job's candidates in order, report the outcome to `events` and return it.

        Cancelled (the group was cancelled or the server is stopping): every attempt is settled
        and `CancelledError` propagates; the caller records what that means for the task.
        """
        try:
            outcome = await self._run(job, events)
        finally:
            self._tell_verdict(job, None)  # answers whose checks never ran: told as they were
        try:
            await events.finished(job, outcome)
        finally:
            if outcome.settlement is not None:
                await self._settle_left(outcome.settlement, outcome)
        return outcome

    async def _settle_left(self, settlement: AttemptSettlement, outcome: Outcome) -> None:
        """Settle the deciding call if the outcome's write did not (none, or it failed); then
        what follows a settlement. A failure here is logged: `recover` settles what is left."""
        if not outcome.settled:
            try:
                await asyncio.shield(self.store.settle_attempt(settlement.attempt_id, **_settle_fields(settlement)))
            except Exception:
                log.exception("could not settle attempt %s", settlement.attempt_id)
                return
        if outcome.after_settle is not None:
            outcome.after_settle()

    async def _run(self, job: Job, events: TaskEvents) -> Outcome:
        plan = job.plan
        chain = _chain_of(plan)
        order = {c.model_id: i for i, c in enumerate(chain)}
        pending = deque(chain)
        deferred: dict[str, Candidate] = {}  # left for now, by model id, in chain order
        prompt_tokens = count_tokens(job.messages)
        reasons: list[str] = []
        last_class: str | None = None
        state = _Progress()
        tries = _Tries()
        rounds = 0
        try:
            async with _Clock(job.timeout_s, self.config.overall_timeout_factor) as clock:
                while pending or deferred:
                    if pending:
                        candidate, movable = pending.popleft(), True
                    else:
                        # Every model left is cooling: sleep until the first frees (not on the task's
                        # clock), then take it, still free to leave it unless it is the last.
                        candidate, wait = self._soonest(deferred)
                        if wait > self.gate.move_after_s:
                            await asyncio.sleep(wait)
                            candidate, wait = self._soonest(deferred)
                        movable = len(deferred) > 1
                    deferred.pop(candidate.model_id, None)
                    alternatives = [*pending, *deferred.values()]
                    try:
                        if job.validation is not None and job.validation.get("mode") == "agent":
                            text, model_id, agent = await self._agent(job, events, candidate, clock, state, tries)
                        else:
                            completion, model_id = await self._candidate(
                                job, events, candidate, movable, alternatives, prompt_tokens, clock, state, tries
                            )
                            text, agent = completion.text, None
                    except _Defer as leave:
                        deferred[candidate.model_id] = candidate
                        deferred = dict(sorted(deferred.items(), key=lambda item: order[item[0]]))
                        last_class = leave.error_class
                        if not reasons or reasons[-1] != f"{candidate.model_id}: {leave.reason}":
                            reasons.append(f"{candidate.model_id}: {leave.reason}")
                        continue
                    except _Next as skip:
                        reasons.append(f"{candidate.model_id}: {skip.reason}")
                        last_class = skip.error_class
                        continue
                    if job.validation is None:
                        return Outcome("succeeded", text=text, model_used=model_id, call_seconds=clock.call_seconds,
                                       settlement=state.settlement, after_settle=state.after_settle)
                    verdict = await check_task_answer(text, job.validation, self.config.validation_env)
                    if job.last_attempt_id is not None:
                        await self.store.record_validation(
                            job.last_attempt_id, job.task_id, job.group_id, passed=verdict.passed,
                            status=verdict.status, base_commit=verdict.base_commit,
                            report_json=with_agent_report(verdict.report_json, agent),
                        )
                    self._tell_verdict(job, verdict.passed, unchecked=verdict.status == "unchecked")
                    if verdict.passed:
                        return Outcome("succeeded", text=verdict.patch, model_used=model_id,
                                       call_seconds=clock.call_seconds)
                    if verdict.status == "unchecked":  # no check can run: no other model would be checked either
                        return Outcome("failed", text=verdict.patch, model_used=model_id,
                                       error=f"{model_id}'s patch could not be checked: {verdict.hint}",
                                       error_class="validation_unavailable", call_seconds=clock.call_seconds)
                    rounds += 1
                    reasons.append(f"{model_id}: checks {verdict.status}" + (f" ({verdict.hint})" if verdict.hint else ""))
                    last_class = "validation_failed"
                    if rounds >= int(job.validation.get("max_rounds", 3)):
                        break
                    job.messages = job.messages + feedback_messages(text, verdict.feedback)
                    prompt_tokens = count_tokens(job.messages)
                    # Escalate past the variant whose answer failed the checks, when there is another.
                    if any(c.variant != candidate.variant for c in pending):
                        pending = deque(c for c in pending if c.variant != candidate.variant)
                        deferred = {m: c for m, c in deferred.items() if c.variant != candidate.variant}
        except TimeoutError:
            return Outcome(
                "timed_out",
                error=f"{clock.timeout_message()}; path: " + ("; ".join(reasons) or "first call"),
                error_class="timeout",
                call_seconds=clock.call_seconds,
            )
        except asyncio.CancelledError:
            raise
        summary = "; ".join(reasons) or "no candidate model"
        return Outcome("failed", error=f"every model failed: {summary}", error_class=last_class,
                       call_seconds=clock.call_seconds)

    def _same_tier(self, model: ModelSpec, candidates: list[Candidate]) -> bool:
        """Another candidate of the model's tier (a hung call moves there at once; crossing
        into another tier waits until this model's retries are used up)."""
        for candidate in candidates:
            other = self.catalog.models.get(candidate.model_id)
            if other is not None and other.tier == model.tier and self.providers.availability(other) is None:
                return True
        return False

    def _call_timeouts(self, job: Job, clock: _Clock) -> tuple[float, float, float]:
        """One call's limits (first byte, stall, total): well below the task's, so a hung call
        leaves time to try elsewhere."""
        return self.config.call_timeouts.for_task(job.timeout_s, clock.left, self.config.stall_timeout_s)

    def _soonest(self, deferred: dict[str, Candidate]) -> tuple[Candidate, float]:
        """Of the models left for now (in chain order), the one that may be called first, and
        how long until it may."""
        best: tuple[Candidate, float] | None = None
        for candidate in deferred.values():
            model = self.catalog.models.get(candidate.model_id)
            seconds = self.gate.cooling(model.provider, model.id) if model is not None else 0.0
            if best is None or round(seconds, 1) < round(best[1], 1):
                best = (candidate, seconds)
        assert best is not None
        return best

    async def _candidate(
        self,
        job: Job,
        events: TaskEvents,
        candidate: Candidate,
        movable: bool,
        alternatives: list[Candidate],
        prompt_tokens: int,
        clock: _Clock,
        state: _Progress,
        tries: _Tries,
        *,
        messages: Sequence[Message] | None = None,
        tools: tuple[ToolSpec, ...] = (),
    ) -> tuple[Completion, str]:
        """One call of `candidate` (retried as the policy says) on the job's messages, or on
        `messages` with `tools` offered (an agent's turn); the completion and the model's id."""
        model = self.catalog.models.get(candidate.model_id)
        if model is None:
            raise _Next("not in the catalogue", "not_found")
        reason = self.providers.availability(model)
        if reason:
            raise _Next(f"left out: {reason}", "unavailable")
        ceiling = request_ceiling(model, self.catalog)
        max_tokens = fit_max_tokens(prompt_tokens, job.plan.max_tokens, ceiling, model.max_output_tokens)
        if max_tokens is None:
            raise _Next(f"prompt of ~{prompt_tokens} tokens does not fit {ceiling_words(model, ceiling)}",
                        "context_too_large")
        paid = model.tier == "paid"
        money = reservation_estimate(model, prompt_tokens, job.plan.output_tokens, max_tokens)
        reserve = None if money is None else money.estimate
        if paid and reserve is None and not self.config.allow_unknown_prices:
            raise _Next("price unknown (set allow_unknown_prices to use it)", "unknown_price")
        spec, base_url, api_key = self.providers.resolve(model)
        backend = self.providers.backend_for(spec.name)
        policy = self.config.retry
        while True:
            permit = self.gate.enqueue(
                job.group_id, spec.name, model.id, priority=job.priority, depth=job.depth,
                tokens=prompt_tokens + min(max_tokens, job.plan.output_tokens or max_tokens),
                movable=movable,
            )
            try:
                if not state.queued:  # once in the queue: record it while waiting
                    state.queued = True
                    await events.queued(job)
                await self.gate.wait(permit)
            except Busy as busy:
                raise _Defer(f"cooling down ({busy.wait_s:.1f}s left)", "rate_limited") from None
            except BaseException:
                self.gate.withdraw(permit)
                raise
            try:
                if not state.clock_started:
                    state.clock_started = True
                    clock.start_overall()
                try:
                    # The task's first call also moves it to `running`, in the same transaction.
                    attempt, moved = await self.store.begin_task_attempt(
                        job.task_id, job.group_id, model.id, spec.name, candidate.variant,
                        reserve, paid, job.limits, cap_usd=None if money is None else money.cap,
                        start_task=not state.started, repo=job.plan.repo or None, quick=self.gate.quiet,
                    )
                except BudgetExceeded as exc:
                    raise _Next(f"budget: {exc}", "budget") from None
                if not state.started:
                    state.started = True
                    if moved:
                        await events.started(job)
                job.last_attempt_id = attempt.id
                if self.observer is not None:
                    self.observer.begin_call(model.id)
                call = _Call(job.plan.task_type, job.plan.agent, candidate.variant, spec.name, job.plan.repo,
                             job.unchecked if job.validation is not None else None)
                first_byte_s, stall_s, total_s = self._call_timeouts(job, clock)
                request = CompletionRequest(
                    model=model, provider=spec, base_url=base_url, api_key=api_key,
                    messages=job.messages if messages is None else messages, tools=tools,
                    max_tokens=max_tokens, temperature=job.plan.temperature,
                    stream=True, context_tokens=prompt_tokens + max_tokens,
                    timeout_s=total_s, stall_timeout_s=stall_s, first_byte_timeout_s=first_byte_s,
                    cache_prefix=job.cache_prefix,
                )
                t0 = time.perf_counter()
                clock.run()
                try:
                    completion = await backend.complete(request)
                except BackendError as exc:
                    clock.pause()
                    clock.call_seconds += time.perf_counter() - t0
                    await self._settle_failure(attempt.id, exc, t0, model, call)
                    failure = exc
                except asyncio.CancelledError:
                    clock.call_seconds += time.perf_counter() - t0
                    await self._settle_cancel(job, attempt.id, clock, t0, model, call)
                    raise
                else:
                    clock.pause()
                    clock.call_seconds += time.perf_counter() - t0
                    settlement, after = self._success(attempt.id, model, completion, prompt_tokens, call,
                                                      (backend, request))
                    if job.validation is None and messages is None:  # this answer is the outcome
                        state.settlement, state.after_settle = settlement, after
                    else:
                        await self.store.settle_attempt(attempt.id, **_settle_fields(settlement))
                        after()
                    if completion.rate_limits is not None:
                        self.gate.observe(permit, completion.rate_limits)
                    return completion, model.id
            finally:
                self.gate.release(permit)
            # The call failed: decide by class (outside the permit, so others may go meanwhile).
            kind = classify(failure)
            if kind == "misconfigured":
                self.providers.mark_misconfigured(model.id, f"{failure.error_class}: {failure}")
                raise _Next(str(failure), failure.error_class)
            if kind in ("too_large", "fatal"):
                raise _Next(str(failure), failure.error_class)
            if kind == "rate_limited":
                assert isinstance(failure, BackendRateLimited)
                cool_s = policy.retry_after(failure)
                self.gate.cool_down(spec.name, model.id, cool_s)
                waits = tries.rate_waits[model.id] = tries.rate_waits.get(model.id, 0) + 1
                if waits > policy.max_rate_limit_waits:
                    raise _Next(f"rate limited {waits} times ({failure})", failure.error_class)
                if alternatives and cool_s > self.gate.move_after_s:
                    raise _Defer(f"rate limited ({failure})", failure.error_class)
                continue  # nowhere else to go: the gate holds the retry until the cool-down ends
            retries = tries.retries[model.id] = tries.retries.get(model.id, 0) + 1
            if retries > policy.max_retries:
                raise _Next(f"{failure.error_class} after {retries} tries ({failure})", failure.error_class)
            if isinstance(failure, BackendTimeout) and self._same_tier(model, alternatives):
                raise _Defer(f"{failure.error_class} ({failure})", failure.error_class)
            await asyncio.sleep(policy.backoff(retries, self._rng))

    async def _agent(
        self, job: Job, events: TaskEvents, candidate: Candidate, clock: _Clock, state: _Progress, tries: _Tries
    ) -> tuple[str, str, AgentResult]:
        """Run `candidate` as a coding agent in its own worktree; its diff is the answer. A turn
        that is rate limited waits for the model (moving mid-run would throw its work away)."""
        model = self.catalog.models.get(candidate.model_id)
        if model is not None and not model.tool_calling:
            raise _Next("no tool calling, so not used for agent mode", "unsupported")
        assert job.validation is not None

        async def turn(messages: list[ChatMessage], specs: Sequence[ToolSpec]) -> AgentReply:
            try:
                completion, _ = await self._candidate(
                    job, events, candidate, False, [], count_chat_tokens(messages), clock, state, tries,
                    messages=messages, tools=tuple(specs),
                )
            except _Next as skip:
                if skip.error_class == "budget":
                    raise BudgetExceeded(skip.reason) from None
                raise
            return agent_reply(completion, model)

        result = await run_agent_attempt(
            job.validation, job.messages, turn, env=self.config.validation_env,
            task_id=f"{job.task_id}-{candidate.variant}", on_step=lambda _step: events.progress(job),
        )
        return result.diff or result.written_patch, candidate.model_id, result

    async def aclose(self) -> None:
        """Stop cost reconciliations still waiting on a provider."""
        for task in list(self._reconciling):
            task.cancel()
        await asyncio.gather(*self._reconciling, return_exceptions=True)

    def _reconcile_later(
        self, attempt_id: int, model: ModelSpec, sent: tuple[Backend, CompletionRequest], generation_id: str | None
    ) -> None:
        """Ask a provider that bills per generation (OpenRouter) for the final cost, off the hot
        path (`sent`: the backend and the request the call was made with)."""
        if generation_id is None:
            return
        backend, request = sent
        fetch = backend.reconcile_cost(request, generation_id)
        if fetch is None:
            return

        async def settle_final_cost() -> None:
            try:
                cost = await fetch
            except Exception as exc:  # reconciliation is best effort; the first figure stands
                log.info("cost reconciliation for %s failed: %s", model.id, exc)
                return
            if cost is not None:
                await self.store.update_attempt_cost(attempt_id, cost, "provider_reported")

        task = asyncio.create_task(settle_final_cost(), name=f"reconcile-{attempt_id}")
        self._reconciling.add(task)
        task.add_done_callback(self._reconciling.discard)

    def _tell(self, model: ModelSpec, call: _Call, status: str, latency_ms: float, **fields: Any) -> None:
        if self.observer is None:
            return
        fact = AttemptFact(
            model_id=model.id, status=status, started_at=time.time() - latency_ms / 1000.0,
            provider=call.provider, task_type=call.task_type, variant=call.variant, agent=call.agent,
            latency_ms=latency_ms, repo=call.repo, **fields,
        )
        if call.held is not None and status == "succeeded":
            call.held.append(fact)  # an answer is a success only once its checks pass
            return
        self.observer.record(fact)

    def _tell_verdict(self, job: Job, passed: bool | None, *, unchecked: bool = False) -> None:
        """Tell the observer a validated task's held answers; the checked one carries `passed`, or,
        failed only because no check could run (`unchecked`), `validation_unavailable`: the
        environment's fault, which counts for nothing (as the store's rows are read back)."""
        held, job.unchecked = job.unchecked, []
        if self.observer is None:
            return
        for fact in held:
            if passed is not None and fact.attempt_id == job.last_attempt_id:
                fact = (dataclasses.replace(fact, error_class="validation_unavailable") if unchecked and not passed
                        else dataclasses.replace(fact, validation_passed=passed))
            self.observer.record(fact)

    def _success(
        self, attempt_id: int, model: ModelSpec, completion: Completion, prompt_tokens: int, call: _Call,
        sent: tuple[Backend, CompletionRequest],
    ) -> tuple[AttemptSettlement, Callable[[], None]]:
        """A succeeded call's settlement, and what follows once it is written (the later cost
        figure, asked of the backend the call was `sent` with; the observer)."""
        usage = completion.usage
        if usage is None:  # no usage reported: price our own estimate rather than nothing
            from server.analysis.tokens import count_tokens as count_text

            usage = Usage(input_tokens=prompt_tokens, output_tokens=count_text(completion.text))
        cost = compute_cost(model, usage, completion.provider_cost)
        settlement = AttemptSettlement(
            attempt_id, "succeeded", input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_input_tokens, reasoning_tokens=usage.reasoning_tokens, cost=cost.amount,
            cost_source=cost.source, latency_ms=completion.latency_s * 1000.0,
            first_token_ms=None if completion.first_token_s is None else completion.first_token_s * 1000.0,
            generation_id=completion.generation_id,
        )

        def after() -> None:
            self._reconcile_later(attempt_id, model, sent, completion.generation_id)
            self._tell(
                model, call, "succeeded", completion.latency_s * 1000.0,
                input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                cost=cost.amount, cost_source=cost.source, attempt_id=attempt_id,
            )

        return settlement, after

    async def _settle_failure(
        self, attempt_id: int, exc: BackendError, t0: float, model: ModelSpec, call: _Call
    ) -> None:
        cost = exc.provider_cost
        latency_ms = (time.perf_counter() - t0) * 1000.0
        await self.store.settle_attempt(
            attempt_id, status="failed", cost=cost,
            cost_source="provider_reported" if cost is not None else "unknown",
            latency_ms=latency_ms, error_class=exc.error_class,
            error_message=str(exc)[:500], http_status=exc.status,
        )
        self._tell(model, call, "failed", latency_ms, error_class=exc.error_class, http_status=exc.status)

    async def _settle_cancel(
        self, job: Job, attempt_id: int, clock: _Clock, t0: float, model: ModelSpec, call: _Call
    ) -> None:
        if clock.expired():
            status, error_class, message = "failed", "timeout", clock.timeout_message()
        elif job.cancelled_by_user:
            status, error_class, message = "cancelled", "cancelled", "cancelled by the user"
        else:
            status, error_class, message = "interrupted", "interrupted", "server shutting down"
        # Shielded: a second cancellation must not leave the attempt unsettled.
        latency_ms = (time.perf_counter() - t0) * 1000.0
        await asyncio.shield(self.store.settle_attempt(
            attempt_id, status=status, latency_ms=latency_ms,
            error_class=error_class, error_message=message,
        ))
        if status == "failed":  # a task time-out says something about the model; a cancel does not
            self._tell(model, call, status, latency_ms, error_class=error_class)


@functools.lru_cache(maxsize=1024)
def _cached_chain(variant: str, model_id: str, fallbacks: tuple[str, ...],
                  escalation: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Candidate, ...]:
    return tuple(candidate_chain(variant, model_id, fallbacks, escalation))


def _chain_of(plan: TaskPlan) -> tuple[Candidate, ...]:
    """The plan's candidates in order; the tasks of a group share a handful of chains, so each is
    laid out once (the candidates are frozen: sharing them is safe; a plan's fields are tuples)."""
    return _cached_chain(plan.variant, plan.model_id, plan.fallback_model_ids, plan.escalation)


def _settle_fields(settlement: AttemptSettlement) -> dict[str, Any]:
    """`settle_attempt`'s keyword arguments for a settlement."""
    fields = dataclasses.asdict(settlement)
    del fields["attempt_id"]
    return fields
