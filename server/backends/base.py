"""The backend contract: one Protocol, and the request / completion records that cross it.

A backend speaks one wire protocol (OpenAI-compatible chat completions, Anthropic Messages,
Ollama's native chat) over a shared `httpx.AsyncClient`. It raises only `server.errors.BackendError`
subclasses; the scheduler decides what to do with them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from server.catalog.schema import ModelSpec, ProviderSpec

__all__ = [
    "Backend",
    "ChunkCallback",
    "Completion",
    "CompletionRequest",
    "RateLimitInfo",
    "Usage",
]

# Called with each streamed text delta (for progress and stall detection).
ChunkCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class CompletionRequest:
    model: ModelSpec
    provider: ProviderSpec
    base_url: str
    api_key: str | None
    messages: list[dict[str, str]]  # [{"role": "system"|"user"|"assistant", "content": "..."}]
    max_tokens: int
    temperature: float = 0.2
    stream: bool = True
    timeout_s: float = 300.0  # whole call
    stall_timeout_s: float = 60.0  # longest silence allowed inside a stream
    context_tokens: int | None = None  # prompt + max_tokens, for servers whose window we set (Ollama)
    on_chunk: ChunkCallback | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, OpenAI's convention whatever the provider: `input_tokens` counts every
    prompt token (cache reads and writes included), `output_tokens` every generated token
    (reasoning / thinking included). Backends normalise to this; pricing relies on it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0  # cache reads, priced at cache_read_per_mtok
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # already included in output_tokens on OpenAI-style APIs


@dataclass(frozen=True)
class RateLimitInfo:
    """What the provider's headers said about its limits (None = not sent)."""

    remaining_requests: float | None = None
    remaining_tokens: float | None = None
    reset_requests_s: float | None = None  # seconds until the request budget refills
    reset_tokens_s: float | None = None
    limit_requests: float | None = None
    limit_tokens: float | None = None
    retry_after_s: float | None = None
    requests_window_s: float = 60.0  # Groq counts its *-requests pair per day


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage | None  # None = the provider reported none (cost falls back to our estimate)
    provider_cost: float | None = None  # the provider's own figure in USD (OpenRouter usage.cost)
    generation_id: str | None = None
    finish_reason: str | None = None
    latency_s: float = 0.0
    first_token_s: float | None = None
    rate_limits: RateLimitInfo | None = None
    raw_model: str | None = None  # the model name the provider says answered
    extra: dict[str, object] = field(default_factory=dict)


class Backend(Protocol):
    """One wire protocol. Implementations are stateless apart from the shared HTTP client."""

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one chat completion.

        Raises:
            BackendTimeout, BackendRateLimited, BackendAuthError, BackendNotFound,
            BackendBadResponse, ContextTooLarge: classified failures (see server.errors).
        """
        ...
