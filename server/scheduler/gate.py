"""The call gate: who may send a model request now, in priority order.

Every model call first asks the gate for a permit naming its group, provider and model. A
permit is granted only when all of these have room: the global limit, the group's own
`max_concurrent`, the provider's `max_concurrent`, the (provider, model) limit (Ollama serves
one request per model at a time), the provider's and the model's rate limiters, and the
(provider, model) cool-down. The gate owns the rate limiters (one per provider, one per model
with a manifest limit or rate-limit headers seen) and the cool-downs; `observe` feeds a
response's headers to its model's limiter. Waiters are served best first (priority, then the longest chain
of work behind the task, then arrival); a waiter that cannot go yet does not block others
bound elsewhere, but does block lower-ranked waiters for the same provider so a large request
is not starved by a stream of small ones.

A waiter that has somewhere else to go (`movable`: its task has other candidate models) waits
at most `move_after_s` for its (provider, model) — held by a cool-down, a rate limiter, the
provider's or the model's concurrency limit, or the queue in front of it there: its wait then
ends with `Busy`, and the task moves on to its next candidate. Only a task with nowhere else to go waits.

Grants are decided in one pass scheduled with `call_soon`, so tasks that become ready in the
same loop turn are ranked together; when only time can unblock a waiter (rate limit,
cool-down) a single timer re-runs the pass. One exception changes no order: a permit asked for
when nobody waits is decided at once when its grant leaves room for another call at every shared
limit, or when its group is the only one running and runs one call at a time (a later arrival of
the same turn is served as the pass would serve it).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from server.backends.base import RateLimitInfo
from server.scheduler.ratelimit import Cooldowns, RateLimiter

__all__ = ["Busy", "CallGate", "Limits", "Permit"]


class Busy(Exception):
    """A movable waiter's (provider, model) cannot be called for `wait_s` more seconds."""

    def __init__(self, provider: str, model: str, wait_s: float) -> None:
        super().__init__(f"{provider}/{model} is cooling down or rate limited for {wait_s:.1f}s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Limits:
    """Limits for one provider (or, rates only, one model); None = unlimited."""

    max_concurrent: int | None = None
    max_concurrent_per_model: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None


@dataclass(eq=False)
class Permit:
    group_id: str
    provider: str
    model: str
    tokens: int
    rank: tuple[float, float, int]
    movable: bool = False
    enqueued_at: float = 0.0
    granted_at: float = 0.0
    future: asyncio.Future[None] | None = field(default=None, repr=False)
    granted: bool = False
    released: bool = False


class CallGate:
    """Grants call permits under global, group, provider, model, rate and cool-down limits."""

    def __init__(
        self,
        max_concurrent: int,
        *,
        provider_limits: Callable[[str], Limits] | None = None,
        model_limits: Callable[[str, str], Limits] | None = None,
        rate_window_s: float = 60.0,
        move_after_s: float = 0.5,
        cooldowns: Cooldowns | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self.move_after_s = move_after_s
        self._provider_limits = provider_limits or (lambda _p: Limits())
        self._model_limits = model_limits or (lambda _p, _m: Limits())
        self._rate_window_s = rate_window_s
        self._provider_limiters: dict[str, RateLimiter] = {}
        self._limits: dict[str, Limits] = {}
        self._model_limiters: dict[tuple[str, str], RateLimiter | None] = {}
        self.cooldowns = cooldowns or Cooldowns()
        self._clock = clock
        self._group_limits: dict[str, int] = {}
        self._waiting: list[tuple[tuple[float, float, int], Permit]] = []
        self._seq = itertools.count()
        self.running = 0
        self._by_group: dict[str, int] = {}
        self._by_provider: dict[str, int] = {}
        self._by_model: dict[tuple[str, str], int] = {}
        self._pump_pending = False
        self._timer: asyncio.TimerHandle | None = None

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def set_group_limit(self, group_id: str, limit: int | None) -> None:
        if limit is None:
            self._group_limits.pop(group_id, None)
        else:
            self._group_limits[group_id] = max(1, limit)

    def provider_limiter(self, provider: str) -> RateLimiter:
        """The provider's limiter; every provider has one so its headers can tighten it."""
        limiter = self._provider_limiters.get(provider)
        if limiter is None:
            limits = self._provider_limits(provider)
            limiter = RateLimiter(limits.requests_per_minute, limits.tokens_per_minute, window_s=self._rate_window_s)
            self._provider_limiters[provider] = limiter
        return limiter

    def model_limiter(self, provider: str, model: str) -> RateLimiter | None:
        """The model's own limiter, when its manifest entry sets a rate (else None)."""
        key = (provider, model)
        if key not in self._model_limiters:
            limits = self._model_limits(provider, model)
            has = limits.requests_per_minute or limits.tokens_per_minute
            self._model_limiters[key] = (
                RateLimiter(limits.requests_per_minute, limits.tokens_per_minute, window_s=self._rate_window_s)
                if has else None
            )
        return self._model_limiters[key]

    def observe(self, permit: Permit, info: RateLimitInfo) -> None:
        """Tighten the model's limiter from the rate-limit headers of the response to `permit`'s call.

        Providers state these limits per model (OpenAI, Groq, Anthropic's model classes), so they
        hold back that model alone; the provider's own limits come from its manifest entry.
        """
        key = (permit.provider, permit.model)
        limiter = self.model_limiter(*key)
        if limiter is None:
            limiter = self._model_limiters[key] = RateLimiter(window_s=self._rate_window_s)
        limiter.observe(info, self.now(), sent_at=permit.granted_at)
        self._schedule_pump()

    def cool_down(self, provider: str, model: str, seconds: float) -> None:
        """Send nothing to (provider, model) for `seconds` (a 429's Retry-After); other models go on."""
        self.cooldowns.extend(provider, model, self.now() + seconds)
        self._schedule_pump()

    def enqueue(
        self, group_id: str, provider: str, model: str, *, priority: float, depth: float = 0, tokens: int = 0,
        movable: bool = False,
    ) -> Permit:
        """Join the queue now (synchronously, so arrival order is the caller's); then `wait`.

        `movable`: the caller has other models to try, so its wait ends with `Busy` rather than
        sit out a cool-down or rate limit longer than `move_after_s`.
        """
        rank = (-priority, -depth, next(self._seq))
        permit = Permit(group_id, provider, model, tokens, rank, movable, self.now())
        permit.future = asyncio.get_running_loop().create_future()
        if not self._waiting and not self._pump_pending and self._room_to_spare(permit):
            # Nobody waits and a grant now leaves room for another: whatever joins later in this
            # turn is served exactly as the pass would serve it, so decide now (the pass's turn
            # of its own was ~0.1 ms of a task at one call in flight).
            self._waiting.append((rank, permit))
            self._pump()
            return permit
        bisect.insort(self._waiting, (rank, permit), key=lambda item: item[0])
        self._schedule_pump()
        return permit

    async def wait(self, permit: Permit) -> None:
        """Wait until `permit` is granted; on cancellation it is withdrawn (or given back).

        Raises:
            Busy: a movable permit's model cannot be called for a while; try another.
        """
        future = permit.future
        assert future is not None
        try:
            if self._pump_pending and not future.done():
                # The pass that decides this permit is next in the loop's queue: yielding lets it
                # run first and resumes us in the same turn, instead of being woken in a turn of
                # its own after it (at one call in flight, a turn is a good part of a task's cost).
                await asyncio.sleep(0)
                if future.done():
                    future.result()  # Busy: moved on, as when awaited
                    return
            await future
        except BaseException:
            self.withdraw(permit)
            raise

    def withdraw(self, permit: Permit) -> None:
        """Leave the queue, or give the permit back if it was already granted."""
        assert permit.future is not None
        if permit.granted:
            self.release(permit)
        else:
            permit.future.cancel()
            self._remove(permit)

    def release(self, permit: Permit) -> None:
        """Give a permit back (idempotent; a permit never granted holds nothing)."""
        if permit.released or not permit.granted:
            return
        permit.released = True
        self.running -= 1
        self._by_group[permit.group_id] -= 1
        self._by_provider[permit.provider] -= 1
        self._by_model[(permit.provider, permit.model)] -= 1
        self._schedule_pump()

    def wake(self) -> None:
        """Re-check waiters now (after a cool-down or limit changed outside the gate)."""
        self._schedule_pump()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def quiet(self) -> bool:
        """At most one call in flight: a task waiting on the store now has the event loop nearly
        to itself, so the store may run its transaction right there (`quick`, see
        `server.store.sqlite_backend`). With more, the loop has their streams to serve and the
        store's own thread runs it beside them (measured at 16 calls: on the loop, its lag went
        from 1.8 to 9.5 ms at p50 and the makespan per task doubled)."""
        return self.running <= 1

    def _remove(self, permit: Permit) -> None:
        index = bisect.bisect_left(self._waiting, permit.rank, key=lambda item: item[0])
        if index < len(self._waiting) and self._waiting[index][1] is permit:
            del self._waiting[index]

    def _schedule_pump(self) -> None:
        if not self._pump_pending and self._waiting:  # with nobody waiting a pass has nothing to do
            self._pump_pending = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_pending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.now()
        wake_at: float | None = None
        # Providers / models whose best waiter is waiting on time: lower-ranked ones wait too.
        held_providers: set[str] = set()
        held_models: set[tuple[str, str]] = set()
        # Waiters leaving the queue (granted, or moved on with `Busy`); the rest stay in place, so
        # a release with a full house costs O(1) and a grant walks only the waiters ranked above it.
        leaving: list[int] = []
        for index, (_rank, permit) in enumerate(self._waiting):
            if self.running >= self.max_concurrent:
                break
            key = (permit.provider, permit.model)
            provider_limiter = self.provider_limiter(permit.provider)
            model_limiter = self.model_limiter(permit.provider, permit.model)
            provider_wait = provider_limiter.delay(now, permit.tokens)
            model_wait = max(
                self.cooldowns.remaining(permit.provider, permit.model, now),
                model_limiter.delay(now, permit.tokens) if model_limiter else 0.0,
            )
            if permit.movable:
                wait = max(provider_wait, model_wait)  # what only time holds it back by
                held = (wait > 0 or permit.provider in held_providers or key in held_models
                        or not self._provider_has_room(permit))
                if held:
                    if wait > self.move_after_s or now - permit.enqueued_at >= self.move_after_s:
                        assert permit.future is not None
                        if not permit.future.done():
                            permit.future.set_exception(Busy(permit.provider, permit.model, wait))
                        leaving.append(index)
                        continue
                    until = permit.enqueued_at + self.move_after_s
                    wake_at = until if wake_at is None else min(wake_at, until)
            if permit.provider in held_providers or key in held_models or not self._has_room(permit):
                continue
            if provider_wait > 0 or model_wait > 0:
                if provider_wait > 0:
                    held_providers.add(permit.provider)
                if model_wait > 0:
                    held_models.add(key)
                until = now + max(provider_wait, model_wait)
                wake_at = until if wake_at is None else min(wake_at, until)
                continue
            provider_limiter.record(now, permit.tokens)
            if model_limiter is not None:
                model_limiter.record(now, permit.tokens)
            self._grant(permit, now)
            leaving.append(index)
        for index in reversed(leaving):
            del self._waiting[index]
        if wake_at is not None and self._waiting:
            self._timer = asyncio.get_running_loop().call_later(wake_at - now, self._schedule_pump)

    def cooling(self, provider: str, model: str) -> float:
        """Seconds until (provider, model) may be called again as far as time is concerned."""
        now = self.now()
        model_limiter = self.model_limiter(provider, model)
        return max(
            self.cooldowns.remaining(provider, model, now),
            self.provider_limiter(provider).delay(now),
            model_limiter.delay(now) if model_limiter else 0.0,
        )

    def _room_to_spare(self, permit: Permit) -> bool:
        """Room for `permit`, and either nobody who could ask beside it (the only running group,
        one call at a time) or room for one more everywhere another group could compete for it
        (a group's own tasks reach the gate best first already)."""
        if not self._has_room(permit):
            return False
        if self._group_limits.get(permit.group_id) == 1 and len(self._group_limits) == 1:
            return True
        if self.running + 1 >= self.max_concurrent:
            return False
        limits = self._limits[permit.provider]  # set by `_provider_has_room`
        if limits.max_concurrent is not None and self._by_provider.get(permit.provider, 0) + 1 >= limits.max_concurrent:
            return False
        per_model = limits.max_concurrent_per_model
        return per_model is None or self._by_model.get((permit.provider, permit.model), 0) + 1 < per_model

    def _has_room(self, permit: Permit) -> bool:
        group_limit = self._group_limits.get(permit.group_id)
        if group_limit is not None and self._by_group.get(permit.group_id, 0) >= group_limit:
            return False
        return self._provider_has_room(permit)

    def _provider_has_room(self, permit: Permit) -> bool:
        limits = self._limits.get(permit.provider)
        if limits is None:  # fixed per provider, like the limiter made from them
            limits = self._limits[permit.provider] = self._provider_limits(permit.provider)
        if limits.max_concurrent is not None and self._by_provider.get(permit.provider, 0) >= limits.max_concurrent:
            return False
        per_model = limits.max_concurrent_per_model
        return per_model is None or self._by_model.get((permit.provider, permit.model), 0) < per_model

    def _grant(self, permit: Permit, now: float) -> None:
        permit.granted = True
        self.running += 1
        self._by_group[permit.group_id] = self._by_group.get(permit.group_id, 0) + 1
        self._by_provider[permit.provider] = self._by_provider.get(permit.provider, 0) + 1
        key = (permit.provider, permit.model)
        self._by_model[key] = self._by_model.get(key, 0) + 1
        permit.granted_at = now
        assert permit.future is not None
        if permit.future.done():  # cancelled while the pump was pending
            self.release(permit)
            return
        permit.future.set_result(None)
