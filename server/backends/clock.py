"""One timer per model call: first byte, the longest silence inside a stream, and the whole call.

The shared backend plumbing wraps a call in an `asyncio.timeout` scope with no deadline and hands
it to `clock.watch(scope)`: one timer, set for the current deadline, enforces all three limits.
A streamed event only notes the time (`clock.progress()`; comment-only keep-alives do not count
as progress), or sets the timer sooner when its stall limit ends before the first-byte limit
did; when the timer fires early because events kept coming, it is set again for the deadline
those events moved it to, else it expires the scope (the call's task is cancelled and
the scope raises `TimeoutError`). So a fast stream costs one timer, not one per event. A plain
(unstreamed) answer arrives in one piece, so only the whole-call limit applies to it. The httpx
timeouts are a backstop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from server.backends.base import CompletionRequest
from server.errors import BackendCallTimeout

__all__ = ["CallClock", "ScopeTimer"]


class ScopeTimer:
    """One timer that expires an `asyncio.timeout` scope (entered without a deadline) once the
    deadline `due()` gives has passed. It is set no later than that deadline and, when it fires
    early (the deadline moved on meanwhile), set again for the deadline as it stands; `due()`
    None: no deadline for now (the timer lapses until set again). Shared by a call's clock
    (`CallClock`) and a task's (`server.scheduler.runner`), so neither reschedules the scope on
    every event."""

    def __init__(self, due: Callable[[], float | None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._due = due
        self._scope: asyncio.Timeout | None = None
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, scope: asyncio.Timeout) -> None:
        self._scope = scope

    def when(self) -> float | None:
        """When the timer fires next (None: not set)."""
        return None if self._timer is None else self._timer.when()

    def set(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        now = self._loop.time()
        due = self._due()
        if due is None:
            self._timer = None
        elif due - now > 1e-3:  # fired early: the deadline moved on since the timer was set
            self._timer = self._loop.call_at(due, self._check)
        else:
            self._timer = None
            if self._scope is not None:
                self._scope.reschedule(now)


class CallClock:
    """Deadlines for one call, on the running loop's clock."""

    def __init__(self, request: CompletionRequest) -> None:
        self._loop = asyncio.get_running_loop()
        self.started = self._loop.time()
        self.started_wall = time.perf_counter()
        self.streaming = request.stream
        self.timeout_s = request.timeout_s
        self.stall_s = request.stall_timeout_s
        self.first_byte_s = (
            request.first_byte_timeout_s if request.first_byte_timeout_s is not None else request.stall_timeout_s
        )
        self.overall = self.started + request.timeout_s
        self.last_event: float | None = None
        self.first_token_s: float | None = None
        self._timer = ScopeTimer(self.deadline)

    def deadline(self) -> float:
        """When the current wait must end: the first-byte or stall point, or the whole-call deadline."""
        if not self.streaming:
            return self.overall
        if self.last_event is None:
            return min(self.overall, self.started + self.first_byte_s)
        return min(self.overall, self.last_event + self.stall_s)

    def progress(self) -> None:
        """A streamed event arrived: the stall deadline moves on."""
        self.last_event = self._loop.time()
        set_for = self._timer.when()
        if set_for is not None and self.deadline() < set_for:
            # The first event swaps the first-byte limit for a shorter stall limit: set it now.
            self._timer.set(self.deadline())

    def watch(self, scope: asyncio.Timeout) -> None:
        """Expire `scope` (entered without a deadline) when the call passes its deadline; call
        `stop` before leaving the scope."""
        self._timer.watch(scope)
        self._timer.set(self.deadline())

    def stop(self) -> None:
        self._timer.stop()

    def mark_token(self) -> None:
        if self.first_token_s is None:
            self.first_token_s = self.elapsed()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started_wall

    def httpx_timeout(self) -> httpx.Timeout:
        read = max(self.first_byte_s, self.stall_s) if self.streaming else self.timeout_s
        # A little slack so our own timer (with the clearer message) normally fires first.
        return httpx.Timeout(self.timeout_s + 1.0, connect=min(10.0, self.timeout_s), read=read + 1.0)

    def timeout_error(self, where: str) -> BackendCallTimeout:
        if self._loop.time() >= self.overall - 1e-3:
            return BackendCallTimeout(f"{where}: no complete answer within {self.timeout_s:g} s", phase="total")
        if self.last_event is None:
            return BackendCallTimeout(
                f"{where}: stalled before answering: nothing received within {self.first_byte_s:g} s",
                phase="first_byte",
            )
        return BackendCallTimeout(
            f"{where}: stream stalled: nothing received for {self.stall_s:g} s", phase="stall"
        )
