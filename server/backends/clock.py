"""One timer per model call: the whole-call deadline and the longest silence inside a stream.

Backends wrap a call in `asyncio.timeout_at(clock.deadline())` and push the deadline back with
`scope.reschedule(clock.deadline())` after every event, so one timer enforces both limits
(comment-only keep-alives do not count as progress). The httpx timeouts are a backstop.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from server.backends.base import CompletionRequest
from server.errors import BackendTimeout

__all__ = ["CallClock"]


class CallClock:
    """Deadlines for one call, on the running loop's clock."""

    def __init__(self, request: CompletionRequest) -> None:
        self._loop = asyncio.get_running_loop()
        self.started = self._loop.time()
        self.started_wall = time.perf_counter()
        self.timeout_s = request.timeout_s
        self.stall_s = request.stall_timeout_s
        self.overall = self.started + request.timeout_s
        self.first_token_s: float | None = None

    def deadline(self, *, streaming: bool = True) -> float:
        """When the current wait must end: the next stall point or the whole-call deadline."""
        if not streaming:
            return self.overall
        return min(self.overall, self._loop.time() + self.stall_s)

    def mark_token(self) -> None:
        if self.first_token_s is None:
            self.first_token_s = self.elapsed()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started_wall

    def httpx_timeout(self, *, streaming: bool) -> httpx.Timeout:
        read = self.stall_s if streaming else self.timeout_s
        # A little slack so our own timer (with the clearer message) normally fires first.
        return httpx.Timeout(self.timeout_s + 1.0, connect=min(10.0, self.timeout_s), read=read + 1.0)

    def timeout_error(self, where: str) -> BackendTimeout:
        if self._loop.time() >= self.overall - 1e-3:
            return BackendTimeout(f"{where}: no complete answer within {self.timeout_s:g} s")
        return BackendTimeout(f"{where}: stream stalled: nothing received for {self.stall_s:g} s")
