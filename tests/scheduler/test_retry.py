"""Failure classes, backoff bounds and the fallback / escalation path of a task."""

from __future__ import annotations

import random

from server.errors import (
    BackendAuthError,
    BackendBadResponse,
    BackendNotFound,
    BackendRateLimited,
    BackendTimeout,
    ContextTooLarge,
)
from server.scheduler.retry import Candidate, RetryPolicy, candidate_chain, classify


def test_failures_are_classified_by_kind() -> None:
    assert classify(BackendTimeout("t")) == "transient"
    assert classify(BackendBadResponse("5xx", status=502)) == "transient"
    assert classify(BackendRateLimited("429", retry_after=3)) == "rate_limited"
    assert classify(BackendAuthError("401", status=401)) == "misconfigured"
    assert classify(BackendNotFound("404", status=404)) == "misconfigured"
    assert classify(ContextTooLarge("big")) == "too_large"


def test_backoff_grows_exponentially_and_stays_under_the_cap() -> None:
    policy = RetryPolicy(base_s=0.5, factor=2.0, cap_s=3.0)
    rng = random.Random(7)
    for retry, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)):
        samples = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # jitter spreads over the whole range


def test_retry_after_defaults_when_absent_and_is_capped() -> None:
    policy = RetryPolicy(default_retry_after_s=2.0, max_retry_after_s=60.0)
    assert policy.retry_after(BackendRateLimited("x")) == 2.0
    assert policy.retry_after(BackendRateLimited("x", retry_after=7.5)) == 7.5
    assert policy.retry_after(BackendRateLimited("x", retry_after=3600)) == 60.0


def test_chain_is_first_choice_then_fallbacks_then_escalation_in_order() -> None:
    chain = candidate_chain(
        "speed", "m1", ["m2"], [("balanced", ["m3", "m2"]), ("quality", ["m4"])]
    )
    assert chain == [
        Candidate("speed", "m1"),
        Candidate("speed", "m2"),
        Candidate("balanced", "m3", escalated=True),
        Candidate("quality", "m4", escalated=True),
    ]
