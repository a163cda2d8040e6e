"""The scheduler's seams, as Protocols.

`Providers`: what the scheduler needs from the provider layer.
`server.backends.registry.ProviderRegistry` satisfies it; scheduler unit tests pass a small
in-memory fake whose backend can be told to answer, sleep or fail (the DESIGN's MockModel).
`CallObserver`: told about every model call (the performance tracker).
`TaskEvents`: how the runner reports a task's progress to the engine, the writer of task
state: `queued` once it waits for its first permit, `started` once its first attempt is stored
(which moved the task to `running` in the same transaction: the one status the runner writes),
and `finished` with its outcome (and the settlement of the call that decided it, to be written
in the same transaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from server.backends.base import Backend
from server.catalog.schema import ModelSpec, ProviderSpec
from server.perf.stats import AttemptFact

if TYPE_CHECKING:
    from server.scheduler.runner import Job, Outcome

__all__ = ["CallObserver", "Providers", "TaskEvents"]


class Providers(Protocol):
    def backend_for(self, provider_name: str) -> Backend:
        """The backend speaking this provider's wire protocol."""
        ...

    def resolve(self, model: ModelSpec) -> tuple[ProviderSpec, str, str | None]:
        """The model's provider spec, its effective base URL and API key (None = no key)."""
        ...

    def availability(self, model: ModelSpec) -> str | None:
        """Why the model cannot be used now (no key, misconfigured, not answering), or None."""
        ...

    def mark_misconfigured(self, model_id: str, reason: str) -> None:
        """Leave this model out from now on (401 / 403 / 404)."""
        ...


class CallObserver(Protocol):
    """Told about every model call (the performance tracker: demotion, probes, learning)."""

    def begin_call(self, model_id: str) -> bool:
        """A call starts (after its money is reserved)."""
        ...

    def record(self, fact: AttemptFact) -> None:
        """A call was settled."""
        ...


class TaskEvents(Protocol):
    """A task's progress, reported by the runner to whoever owns task state (the engine)."""

    async def queued(self, job: Job) -> None:
        """The task joined the gate's queue for its first call."""
        ...

    async def started(self, job: Job) -> None:
        """The task's first attempt is stored and the task moved to `running` with it."""
        ...

    async def finished(self, job: Job, outcome: Outcome) -> None:
        """The task reached an outcome (not `interrupted`: that one is the engine's own). Write
        `outcome.settlement` (if any) with it and set `outcome.settled`; else the runner settles it."""
        ...

    async def progress(self, job: Job) -> None:
        """Something visible changed while the task runs (an agent's step): wake its waiters."""
        ...
