"""What to do after a failed model call, by failure class.

    transient      5xx, timeout, cut or stalled stream, malformed body
                   -> retry the same model after an exponential backoff with full jitter,
                      at most `max_retries` times, then fall back to the next model
    rate_limited   429 (and a busy local server's 503)
                   -> cool the (provider, model) down until the latest Retry-After; move to
                      another provider of the same tier if the chain has one that is not
                      cooling down, else wait and retry (at most `max_rate_limit_waits` times)
    misconfigured  401 / 403 / 404: the key or the model name is wrong
                   -> mark the model misconfigured for everyone, never retry it
    too_large      the prompt does not fit the model's window -> next model, never resent
    fatal          any other non-retryable backend error -> next model

The engine then falls back along the variant's chain and escalates speed -> balanced ->
quality; `candidate_chain` lays that path out once per task.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from server.errors import (
    BackendAuthError,
    BackendError,
    BackendNotFound,
    BackendRateLimited,
    ContextTooLarge,
)

__all__ = ["Candidate", "FailureKind", "RetryPolicy", "candidate_chain", "classify"]

FailureKind = Literal["transient", "rate_limited", "misconfigured", "too_large", "fatal"]


def classify(exc: BackendError) -> FailureKind:
    """The failure class of a backend error."""
    if isinstance(exc, BackendRateLimited):
        return "rate_limited"
    if isinstance(exc, BackendAuthError | BackendNotFound):
        return "misconfigured"
    if isinstance(exc, ContextTooLarge):
        return "too_large"
    return "transient" if exc.retryable else "fatal"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries; backoff is `base * factor**n` capped at `cap`, with full jitter."""

    max_retries: int = 2
    base_s: float = 0.25
    factor: float = 2.0
    cap_s: float = 8.0
    max_rate_limit_waits: int = 5
    default_retry_after_s: float = 1.0
    max_retry_after_s: float = 300.0

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry number `retry_number` (1-based)."""
        ceiling = min(self.cap_s, self.base_s * self.factor ** max(0, retry_number - 1))
        return (rng or random).uniform(0.0, ceiling)

    def retry_after(self, exc: BackendRateLimited) -> float:
        """How long a rate-limited (provider, model) cools down."""
        wait = exc.retry_after if exc.retry_after is not None and exc.retry_after >= 0 else None
        if wait is None:
            wait = self.default_retry_after_s
        return min(wait, self.max_retry_after_s)


@dataclass(frozen=True)
class Candidate:
    """One model the task may be sent to, with the variant it serves under."""

    variant: str
    model_id: str
    escalated: bool = False


def candidate_chain(
    variant: str,
    model_id: str,
    fallback_model_ids: Sequence[str],
    escalation: Sequence[tuple[str, Sequence[str]]],
) -> list[Candidate]:
    """First choice, its fallbacks, then each escalation stage's models; each model once."""
    chain: list[Candidate] = []
    seen: set[str] = set()
    for model in (model_id, *fallback_model_ids):
        if model not in seen:
            seen.add(model)
            chain.append(Candidate(variant, model))
    for stage_variant, models in escalation:
        for model in models:
            if model not in seen:
                seen.add(model)
                chain.append(Candidate(stage_variant, model, escalated=True))
    return chain
