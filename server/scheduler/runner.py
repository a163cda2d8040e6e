"""Run one task to an outcome: the attempt loop.

For each candidate model (first choice, fallbacks, then escalation): skip it if the provider
is unavailable, the prompt does not fit its window, its price is unknown, or paid models are
paused by a budget; otherwise take a permit from the gate, reserve money (`begin_attempt`),
call the backend, and settle the attempt from the provider's usage. Failures follow
`server.scheduler.retry`. Every attempt row is settled exactly once: succeeded, failed,
cancelled (the user cancelled the group) or interrupted (the server is shutting down; the
task is re-queued and resumes on the next start).

The per-task timeout starts with the task's first call and covers waiting, retries and calls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.backends.base import Completion, CompletionRequest, Usage
from server.backends.pricing import compute_cost
from server.catalog.schema import Catalog, ModelSpec
from server.errors import BackendError, BackendRateLimited, BudgetExceeded
from server.perf.stats import AttemptFact
from server.routing.costs import reservation_estimate
from server.scheduler.gate import CallGate
from server.scheduler.ports import CallObserver, Providers, TaskEvents
from server.scheduler.prompt import count_tokens, fit_max_tokens
from server.scheduler.retry import Candidate, RetryPolicy, candidate_chain, classify
from server.scheduler.types import TaskPlan
from server.scheduler.validated import check_answer, feedback_messages
from server.store import BudgetLimits, Store

__all__ = ["Job", "Outcome", "RunnerConfig", "TaskRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stall_timeout_s: float = 60.0
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


@dataclass
class Outcome:
    status: str  # succeeded | failed | timed_out | cancelled | interrupted
    text: str | None = None
    error: str | None = None
    error_class: str | None = None
    model_used: str | None = None
    call_seconds: float = 0.0  # time spent inside backend calls (for the overhead benchmark)


@dataclass
class _Progress:
    """What has been reported about the task so far."""

    queued: bool = False
    started: bool = False


class _Next(Exception):
    """Give up on this candidate and move to the next one."""

    def __init__(self, reason: str, error_class: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class


@dataclass(frozen=True)
class _Call:
    """What the performance observer needs to know about a call, beyond the model."""

    task_type: str
    agent: str
    variant: str
    provider: str


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
        outcome = await self._run(job, events)
        await events.finished(job, outcome)
        return outcome

    async def _run(self, job: Job, events: TaskEvents) -> Outcome:
        plan = job.plan
        chain = candidate_chain(plan.variant, plan.model_id, plan.fallback_model_ids, plan.escalation)
        prompt_tokens = count_tokens(job.messages)
        reasons: list[str] = []
        last_class: str | None = None
        timing = [0.0]
        state = _Progress()
        try:
            async with asyncio.timeout(None) as deadline:
                rounds = 0
                skip_variant: str | None = None
                for index, candidate in enumerate(chain):
                    if skip_variant is not None and candidate.variant == skip_variant:
                        continue  # after a failed check, escalate past the variant that failed it
                    skip_variant = None
                    try:
                        text, model_id = await self._candidate(
                            job, events, candidate, chain[index + 1 :], prompt_tokens, deadline, state, timing
                        )
                    except _Next as skip:
                        reasons.append(f"{candidate.model_id}: {skip.reason}")
                        last_class = skip.error_class
                        continue
                    if job.validation is None:
                        return Outcome("succeeded", text=text, model_used=model_id, call_seconds=timing[0])
                    verdict = await check_answer(text, job.validation, self.config.validation_env)
                    if job.last_attempt_id is not None:
                        await self.store.record_validation(
                            job.last_attempt_id, job.task_id, job.group_id, passed=verdict.passed,
                            status=verdict.status, base_commit=verdict.base_commit,
                            report_json=verdict.report_json,
                        )
                    if verdict.passed:
                        return Outcome("succeeded", text=verdict.patch, model_used=model_id, call_seconds=timing[0])
                    rounds += 1
                    reasons.append(f"{model_id}: checks {verdict.status}")
                    last_class = "validation_failed"
                    if rounds >= int(job.validation.get("max_rounds", 3)):
                        break
                    job.messages = job.messages + feedback_messages(text, verdict.feedback)
                    prompt_tokens = count_tokens(job.messages)
                    if any(c.variant != candidate.variant for c in chain[index + 1 :]):
                        skip_variant = candidate.variant
        except TimeoutError:
            return Outcome(
                "timed_out",
                error=f"task timed out after {job.timeout_s:g}s; path: " + ("; ".join(reasons) or "first call"),
                error_class="timeout",
                call_seconds=timing[0],
            )
        except asyncio.CancelledError:
            raise
        summary = "; ".join(reasons) or "no candidate model"
        return Outcome("failed", error=f"every model failed: {summary}", error_class=last_class, call_seconds=timing[0])

    async def _candidate(
        self,
        job: Job,
        events: TaskEvents,
        candidate: Candidate,
        rest: list[Candidate],
        prompt_tokens: int,
        deadline: asyncio.Timeout,
        state: _Progress,
        timing: list[float],
    ) -> tuple[str, str]:
        model = self.catalog.models.get(candidate.model_id)
        if model is None:
            raise _Next("not in the catalogue", "not_found")
        reason = self.providers.availability(model)
        if reason:
            raise _Next(f"left out: {reason}", "unavailable")
        max_tokens = fit_max_tokens(prompt_tokens, job.plan.max_tokens, model.context_window, model.max_output_tokens)
        if max_tokens is None:
            raise _Next(
                f"prompt of ~{prompt_tokens} tokens does not fit its {model.context_window}-token window",
                "context_too_large",
            )
        paid = model.tier == "paid"
        money = reservation_estimate(model, prompt_tokens, job.plan.output_tokens, max_tokens)
        reserve = None if money is None else money.estimate
        if paid and reserve is None and not self.config.allow_unknown_prices:
            raise _Next("price unknown (set allow_unknown_prices to use it)", "unknown_price")
        spec, base_url, api_key = self.providers.resolve(model)
        backend = self.providers.backend_for(spec.name)
        retries = rate_waits = 0
        policy = self.config.retry
        while True:
            permit = self.gate.enqueue(
                job.group_id, spec.name, model.id, priority=job.priority, depth=job.depth,
                tokens=prompt_tokens + min(max_tokens, job.plan.output_tokens or max_tokens),
            )
            try:
                if not state.queued:  # once in the queue: record it while waiting
                    state.queued = True
                    await events.queued(job)
                await self.gate.wait(permit)
            except BaseException:
                self.gate.withdraw(permit)
                raise
            try:
                if not state.started:
                    state.started = True
                    deadline.reschedule(asyncio.get_running_loop().time() + job.timeout_s)
                    await events.started(job)
                try:
                    attempt = await self.store.begin_attempt(
                        job.task_id, job.group_id, model.id, spec.name, candidate.variant,
                        reserve, paid, job.limits, cap_usd=None if money is None else money.cap,
                    )
                except BudgetExceeded as exc:
                    raise _Next(f"budget: {exc}", "budget") from None
                job.last_attempt_id = attempt.id
                if self.observer is not None:
                    self.observer.begin_call(model.id)
                call = _Call(job.plan.task_type, job.plan.agent, candidate.variant, spec.name)
                request = CompletionRequest(
                    model=model, provider=spec, base_url=base_url, api_key=api_key,
                    messages=job.messages, max_tokens=max_tokens, temperature=job.plan.temperature,
                    stream=True, timeout_s=max(1.0, job.timeout_s),
                    stall_timeout_s=self.config.stall_timeout_s,
                    context_tokens=prompt_tokens + max_tokens,
                )
                t0 = time.perf_counter()
                try:
                    completion = await backend.complete(request)
                except BackendError as exc:
                    timing[0] += time.perf_counter() - t0
                    await self._settle_failure(attempt.id, exc, t0, model, call)
                    failure = exc
                except asyncio.CancelledError:
                    timing[0] += time.perf_counter() - t0
                    await self._settle_cancel(job, attempt.id, deadline, t0, model, call)
                    raise
                else:
                    timing[0] += time.perf_counter() - t0
                    await self._settle_success(attempt.id, model, completion, prompt_tokens, call)
                    if completion.rate_limits is not None:
                        self.gate.observe(permit, completion.rate_limits)
                    return completion.text, model.id
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
                self.gate.cool_down(spec.name, model.id, policy.retry_after(failure))
                rate_waits += 1
                if rate_waits > policy.max_rate_limit_waits or self._alternative(model, rest):
                    raise _Next(f"rate limited ({failure})", failure.error_class)
                continue  # the gate holds the retry until the cool-down ends
            retries += 1
            if retries > policy.max_retries:
                raise _Next(f"{failure.error_class} after {retries} tries ({failure})", failure.error_class)
            await asyncio.sleep(policy.backoff(retries, self._rng))

    def _alternative(self, model: ModelSpec, rest: list[Candidate]) -> bool:
        """Another provider of the same tier later in the chain that is usable and not cooling down."""
        now = self.gate.now()
        for candidate in rest:
            other = self.catalog.models.get(candidate.model_id)
            if other is None or other.provider == model.provider or other.tier != model.tier:
                continue
            if self.providers.availability(other) is None and not self.gate.cooldowns.remaining(
                other.provider, other.id, now
            ):
                return True
        return False


    async def aclose(self) -> None:
        """Stop cost reconciliations still waiting on a provider."""
        for task in list(self._reconciling):
            task.cancel()
        await asyncio.gather(*self._reconciling, return_exceptions=True)

    def _reconcile_later(self, attempt_id: int, model: ModelSpec, generation_id: str | None) -> None:
        """Ask a provider that bills per generation (OpenRouter) for the final cost, off the hot path."""
        reconcile = getattr(self.providers, "reconcile_cost", None)
        if generation_id is None or reconcile is None:
            return
        fetch = reconcile(model, generation_id)
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
        self.observer.record(AttemptFact(
            model_id=model.id, status=status, started_at=time.time() - latency_ms / 1000.0,
            provider=call.provider, task_type=call.task_type, variant=call.variant, agent=call.agent,
            latency_ms=latency_ms, **fields,
        ))

    async def _settle_success(
        self, attempt_id: int, model: ModelSpec, completion: Completion, prompt_tokens: int, call: _Call
    ) -> None:
        usage = completion.usage
        if usage is None:  # no usage reported: price our own estimate rather than nothing
            from server.analysis.tokens import count_tokens as count_text

            usage = Usage(input_tokens=prompt_tokens, output_tokens=count_text(completion.text))
        cost = compute_cost(model, usage, completion.provider_cost)
        await self.store.settle_attempt(
            attempt_id, status="succeeded", input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cached_tokens=usage.cached_input_tokens,
            reasoning_tokens=usage.reasoning_tokens, cost=cost.amount, cost_source=cost.source,
            latency_ms=completion.latency_s * 1000.0,
            first_token_ms=None if completion.first_token_s is None else completion.first_token_s * 1000.0,
            generation_id=completion.generation_id,
        )
        self._reconcile_later(attempt_id, model, completion.generation_id)
        self._tell(
            model, call, "succeeded", completion.latency_s * 1000.0,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cost=cost.amount, cost_source=cost.source,
        )

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
        self, job: Job, attempt_id: int, deadline: asyncio.Timeout, t0: float, model: ModelSpec, call: _Call
    ) -> None:
        if deadline.expired():
            status, error_class, message = "failed", "timeout", f"task timeout ({job.timeout_s:g}s)"
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
