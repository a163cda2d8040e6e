"""An in-memory provider layer for scheduler tests: a backend told to answer, sleep or fail.

Like llm's MockModel: each model has a queue of behaviours (then a default). A behaviour is
a string (the answer), a `BackendError` to raise, or `Sleep(seconds, then)`. Every call is
recorded in order, with the messages it carried.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from server.backends.base import Completion, CompletionRequest, RateLimitInfo, Usage
from server.catalog.schema import Catalog, ModelSpec, ProviderSpec
from server.errors import BackendError

__all__ = ["FakeBackend", "FakeProviders", "Sleep"]


@dataclass(frozen=True)
class Sleep:
    seconds: float
    then: str | BackendError = "ok"


Behaviour = str | BackendError | Sleep


@dataclass
class Call:
    model_id: str
    messages: list[dict[str, str]]
    max_tokens: int


@dataclass
class FakeBackend:
    scripts: dict[str, deque[Behaviour]] = field(default_factory=dict)
    defaults: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    rate_limits: RateLimitInfo | None = None
    _arrived: asyncio.Event | None = None

    async def wait_for_calls(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once `count` calls have started (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while len(self.calls) < count:
                self._arrived = self._arrived or asyncio.Event()
                await self._arrived.wait()
                self._arrived = None

    def reconcile_cost(self, request: CompletionRequest, generation_id: str) -> None:
        """A fake provider settles every cost at once: nothing to reconcile later."""
        return None

    def script(self, model_id: str, behaviours: Iterable[Behaviour], default: Behaviour | None = None) -> None:
        self.scripts.setdefault(model_id, deque()).extend(behaviours)
        if default is not None:
            self.defaults[model_id] = default

    async def complete(self, request: CompletionRequest) -> Completion:
        model_id = request.model.id
        self.calls.append(Call(model_id, [{"role": m.role, "content": m.content} for m in request.chat()],
                               request.max_tokens))
        if self._arrived is not None:
            self._arrived.set()
        queue = self.scripts.get(model_id)
        behaviour: Behaviour = queue.popleft() if queue else self.defaults.get(model_id, f"answer from {model_id}")
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if isinstance(behaviour, Sleep):
                await asyncio.sleep(behaviour.seconds)
                behaviour = behaviour.then
            if isinstance(behaviour, BackendError):
                raise behaviour
            return Completion(
                text=behaviour, usage=Usage(input_tokens=100, output_tokens=50), rate_limits=self.rate_limits
            )
        finally:
            self.in_flight -= 1

    def models_called(self) -> list[str]:
        return [c.model_id for c in self.calls]


class FakeProviders:
    """Satisfies `server.scheduler.ports.Providers` over a catalogue, with one fake backend."""

    def __init__(self, catalog: Catalog, backend: FakeBackend | None = None) -> None:
        self.catalog = catalog
        self.backend = backend or FakeBackend()
        self.misconfigured: dict[str, str] = {}
        self.down: dict[str, str] = {}  # provider -> reason

    def backend_for(self, provider_name: str) -> FakeBackend:
        return self.backend

    def resolve(self, model: ModelSpec) -> tuple[ProviderSpec, str, str | None]:
        return self.catalog.providers[model.provider], "http://fake.invalid", "key"

    def availability(self, model: ModelSpec) -> str | None:
        if model.id in self.misconfigured:
            return f"marked misconfigured: {self.misconfigured[model.id]}"
        if model.provider not in ("loopa", "loopb"):
            return "no key set"
        return self.down.get(model.provider)

    def mark_misconfigured(self, model_id: str, reason: str) -> None:
        self.misconfigured[model_id] = reason
