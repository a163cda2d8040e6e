"""Request / token budgets per provider, tightened by headers, and per-model cool-downs."""

from __future__ import annotations

from server.backends.base import RateLimitInfo
from server.scheduler.ratelimit import Cooldowns, RateLimiter


def test_requests_per_minute_holds_the_next_request_until_the_window_slides() -> None:
    limiter = RateLimiter(requests_per_minute=3, margin_s=0.0)
    for t in (0.0, 1.0, 2.0):
        assert limiter.delay(t) == 0
        limiter.record(t)
    assert limiter.delay(3.0) == 57.0
    assert limiter.delay(60.0) == 0


def test_token_bucket_refills_at_the_per_minute_rate() -> None:
    limiter = RateLimiter(tokens_per_minute=600)
    assert limiter.delay(0.0, 600) == 0
    limiter.record(0.0, 600)
    assert limiter.delay(0.0, 100) == 10.0  # 10 tokens per second
    assert limiter.delay(10.0, 100) == 0


def test_oversized_request_waits_for_a_full_bucket_instead_of_forever() -> None:
    limiter = RateLimiter(tokens_per_minute=100)
    assert limiter.delay(0.0, 5000) == 0


def test_headers_saying_nothing_remains_hold_requests_until_the_reset() -> None:
    limiter = RateLimiter()
    limiter.record(0.0)
    limiter.observe(RateLimitInfo(remaining_requests=0, reset_requests_s=12.0), now=1.0, sent_at=0.0)
    assert limiter.delay(2.0) == 11.0
    assert limiter.delay(13.0) == 0


def test_header_remaining_counts_requests_sent_after_the_one_answered() -> None:
    limiter = RateLimiter()
    for t in (0.0, 0.1, 0.2):
        limiter.record(t)
    # The answer to the first request says 2 remain, but two more are already in flight.
    limiter.observe(RateLimitInfo(remaining_requests=2, reset_requests_s=30.0), now=0.5, sent_at=0.0)
    assert limiter.delay(0.6) > 0


def test_header_limit_tightens_a_looser_manifest_limit() -> None:
    limiter = RateLimiter(requests_per_minute=1000)
    limiter.observe(RateLimitInfo(limit_requests=10, requests_window_s=60.0), now=0.0)
    assert limiter.requests_per_minute == 10


def test_daily_request_header_does_not_become_a_per_minute_limit() -> None:
    limiter = RateLimiter(requests_per_minute=30)
    limiter.observe(RateLimitInfo(limit_requests=14400, requests_window_s=86400.0), now=0.0)
    assert limiter.requests_per_minute == 30


def test_retry_after_blocks_the_provider() -> None:
    limiter = RateLimiter()
    limiter.observe(RateLimitInfo(retry_after_s=5.0), now=10.0)
    assert limiter.delay(11.0) == 4.0


def test_cooldown_is_never_shortened_by_a_later_smaller_one() -> None:
    cooldowns = Cooldowns()
    assert cooldowns.extend("groq", "m", 30.0) == 30.0
    assert cooldowns.extend("groq", "m", 12.0) == 30.0
    assert cooldowns.remaining("groq", "m", 20.0) == 10.0
    assert cooldowns.extend("groq", "m", 40.0) == 40.0
    assert cooldowns.remaining("groq", "other", 20.0) == 0.0


def test_a_compressed_window_scales_every_per_minute_figure() -> None:
    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=60, window_s=6.0, margin_s=0.0)
    limiter.record(0.0, 60)
    limiter.record(1.0)
    assert limiter.delay(2.0) == 4.0
    assert limiter.delay(2.0, 30) == 4.0  # requests bind: 4 s; tokens alone would be 1 s
    assert limiter.delay(6.02, 30) == 0.0
