"""Reading providers' rate-limit headers."""

from __future__ import annotations

import datetime as dt
import email.utils

import httpx
import pytest

from server.backends.base import RateLimitInfo
from server.backends.ratelimits import (
    DAY_S,
    parse_duration,
    parse_rate_limits,
    parse_retry_after,
    retry_after_from,
)

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("6ms", 0.006),
        ("2.5s", 2.5),
        ("1h2m3s", 3723.0),
        ("59m59.5s", 3599.5),
        ("0s", 0.0),
        ("20", 20.0),
        ("7.66s", 7.66),
    ],
)
def test_reset_durations_are_read(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "m30s"])
def test_unreadable_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


def test_openai_headers_give_requests_and_tokens_per_minute() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "2s",
        }
    )
    info = parse_rate_limits(headers, provider="openai", now=NOW)
    assert info == RateLimitInfo(
        remaining_requests=499,
        remaining_tokens=29000,
        reset_requests_s=0.12,
        reset_tokens_s=2.0,
        limit_requests=500,
        limit_tokens=30000,
        requests_window_s=60.0,
    )


def test_groq_requests_pair_counts_per_day() -> None:
    headers = {
        "X-RateLimit-Limit-Requests": "14400",
        "X-RateLimit-Remaining-Requests": "14370",
        "X-RateLimit-Reset-Requests": "2m59.56s",
        "X-RateLimit-Limit-Tokens": "6000",
        "X-RateLimit-Remaining-Tokens": "5997",
        "X-RateLimit-Reset-Tokens": "7.66s",
    }
    info = parse_rate_limits(headers, provider="groq", now=NOW)
    assert info is not None
    assert info.requests_window_s == DAY_S
    assert info.limit_requests == 14400 and info.remaining_requests == 14370
    assert info.reset_requests_s == pytest.approx(179.56)
    assert info.limit_tokens == 6000 and info.reset_tokens_s == pytest.approx(7.66)


def test_cerebras_spells_out_its_windows() -> None:
    headers = {
        "x-ratelimit-limit-requests-day": "14400",
        "x-ratelimit-remaining-requests-day": "14399",
        "x-ratelimit-reset-requests-day": "33011.38",
        "x-ratelimit-limit-tokens-minute": "60000",
        "x-ratelimit-remaining-tokens-minute": "59000",
        "x-ratelimit-reset-tokens-minute": "11.38",
    }
    info = parse_rate_limits(headers, provider="cerebras", now=NOW)
    assert info is not None
    assert info.requests_window_s == DAY_S
    assert info.reset_requests_s == pytest.approx(33011.38)
    assert info.remaining_tokens == 59000 and info.reset_tokens_s == pytest.approx(11.38)


def test_anthropic_resets_are_rfc3339_times() -> None:
    reset = dt.datetime.fromtimestamp(NOW + 42, dt.UTC).isoformat().replace("+00:00", "Z")
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-tokens-limit": "40000",
        "anthropic-ratelimit-tokens-remaining": "39000",
        "anthropic-ratelimit-tokens-reset": reset,
    }
    info = parse_rate_limits(headers, provider="anthropic", now=NOW)
    assert info is not None
    assert info.limit_requests == 50 and info.remaining_requests == 0
    assert info.reset_requests_s == pytest.approx(42.0)
    assert info.remaining_tokens == 39000
    assert retry_after_from(info) == pytest.approx(42.0)


def test_openrouter_reset_is_epoch_milliseconds() -> None:
    headers = {
        "X-RateLimit-Limit": "20",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": str(int((NOW + 9) * 1000)),
    }
    info = parse_rate_limits(headers, provider="openrouter", now=NOW)
    assert info is not None
    assert (info.limit_requests, info.remaining_requests) == (20, 3)
    assert info.reset_requests_s == pytest.approx(9.0)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "17"}, 17.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "30", "retry-after-ms": "800"}, 0.8),
        ({"retry-after": email.utils.formatdate(NOW + 120, usegmt=True)}, 120.0),
        ({"retry-after": email.utils.formatdate(NOW - 120, usegmt=True)}, 0.0),
        ({"retry-after": "whenever"}, None),
        ({}, None),
    ],
)
def test_retry_after_in_seconds_dates_and_milliseconds(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert parse_retry_after(headers, now=NOW) == (pytest.approx(seconds) if seconds is not None else None)


def test_no_rate_limit_headers_means_none() -> None:
    assert parse_rate_limits({"content-type": "application/json"}, now=NOW) is None


def test_retry_after_from_prefers_the_header_then_the_longest_exhausted_reset() -> None:
    assert (
        retry_after_from(RateLimitInfo(retry_after_s=3.0, remaining_requests=0, reset_requests_s=50)) == 3.0
    )
    exhausted = RateLimitInfo(remaining_requests=0, reset_requests_s=5, remaining_tokens=0, reset_tokens_s=20)
    assert retry_after_from(exhausted) == 20
    assert retry_after_from(RateLimitInfo(remaining_requests=4, reset_requests_s=5)) is None
    assert retry_after_from(None) is None
