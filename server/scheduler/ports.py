"""What the scheduler needs from the provider layer, as a Protocol.

`server.backends.registry.ProviderRegistry` satisfies it; scheduler unit tests pass a small
in-memory fake whose backend can be told to answer, sleep or fail (the DESIGN's MockModel).
"""

from __future__ import annotations

from typing import Protocol

from server.backends.base import Backend
from server.catalog.schema import ModelSpec, ProviderSpec
from server.perf.stats import AttemptFact

__all__ = ["CallObserver", "Providers"]


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
