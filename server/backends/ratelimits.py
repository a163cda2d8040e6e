"""Read what a provider's response headers say about its rate limits.

Header families understood (names are case-insensitive):

- OpenAI / Groq / Cerebras / DeepSeek / most OpenAI-compatible servers:
  `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, resets written as durations
  ("1m30s", "6ms", "2.5s", "1h2m"). On Groq the `*-requests` pair counts per DAY (tokens per
  minute); Cerebras spells the window out (`x-ratelimit-limit-requests-day`, `...-tokens-minute`).
- Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
  with resets as RFC 3339 timestamps.
- OpenRouter (and other gateways): `X-RateLimit-{Limit,Remaining,Reset}`, reset in epoch
  milliseconds.
- `retry-after` (seconds or an HTTP date) and `retry-after-ms`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
from collections.abc import Mapping

from server.backends.base import RateLimitInfo

__all__ = [
    "DAY_S",
    "parse_duration",
    "parse_rate_limits",
    "parse_retry_after",
    "rate_limits_of",
    "retry_after_from",
]

DAY_S = 86400.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
# Providers whose `x-ratelimit-*-requests` headers describe a daily window.
_DAILY_REQUEST_PROVIDERS = frozenset({"groq"})


def parse_duration(value: str) -> float | None:
    """Seconds in a reset value like "1m30s", "6ms", "2.5s", "1h0m0s", or a bare number of seconds."""
    text = value.strip().lower()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[unit]
        position = match.end()
    return total if position == len(text) and position > 0 else None


def _parse_http_date(value: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


def _parse_rfc3339(value: str, now: float) -> float | None:
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `retry-after` (seconds or HTTP date)."""
    now = time.time() if now is None else now
    ms = _number(_get(headers, "retry-after-ms"))
    if ms is not None:
        return max(0.0, ms / 1000.0)
    raw = _get(headers, "retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return max(0.0, seconds)
    return _parse_http_date(raw, now)


def _limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers about limits, lower-cased (httpx.Headers: read from its raw bytes, undecoded
    for the others)."""
    raw = getattr(headers, "raw", None)
    if isinstance(raw, list):
        return {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in raw
            if b"ratelimit" in (low := k.lower()) or b"retry-after" in low
        }
    return {k.lower(): v for k, v in headers.items() if "ratelimit" in k.lower() or "retry-after" in k.lower()}


def _get(headers: Mapping[str, str], name: str) -> str | None:
    # httpx.Headers is case-insensitive already; a plain dict from a test may not be.
    value = headers.get(name)
    if value is None and not hasattr(headers, "get_list"):
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    return value


def _epoch_or_delta(value: str | None, now: float) -> float | None:
    number = _number(value)
    if number is None:
        return parse_duration(value) if value else None
    if number > 1e12:  # epoch milliseconds (OpenRouter)
        return max(0.0, number / 1000.0 - now)
    if number > 1e9:  # epoch seconds
        return max(0.0, number - now)
    return max(0.0, number)


def parse_rate_limits(
    headers: Mapping[str, str], *, provider: str | None = None, now: float | None = None
) -> RateLimitInfo | None:
    """Everything the headers say about limits, or None when they say nothing.

    `provider` is the provider's name; it decides the request window where the headers don't
    spell it out (Groq's request pair is per day).
    """
    now = time.time() if now is None else now
    # One pass over the headers keeps only the ones about limits (most answers carry none, and
    # each case-insensitive look-up of httpx.Headers walks the whole list).
    headers = _limit_headers(headers)
    if not headers:
        return None
    found: dict[str, float] = {}
    requests_window = DAY_S if (provider or "").lower() in _DAILY_REQUEST_PROVIDERS else 60.0

    def put(key: str, value: float | None) -> None:
        if value is not None and key not in found:
            found[key] = value

    # OpenAI family, with Cerebras' explicit windows first.
    for suffix, window in (("-day", DAY_S), ("-minute", 60.0), ("-hour", 3600.0), ("", None)):
        limit = _number(_get(headers, f"x-ratelimit-limit-requests{suffix}"))
        remaining = _number(_get(headers, f"x-ratelimit-remaining-requests{suffix}"))
        if limit is None and remaining is None:
            continue
        put("limit_requests", limit)
        put("remaining_requests", remaining)
        reset = _get(headers, f"x-ratelimit-reset-requests{suffix}")
        put("reset_requests_s", parse_duration(reset) if reset else None)
        if window is not None:
            requests_window = window
        break
    for suffix in ("-minute", "-hour", "-day", ""):
        limit = _number(_get(headers, f"x-ratelimit-limit-tokens{suffix}"))
        remaining = _number(_get(headers, f"x-ratelimit-remaining-tokens{suffix}"))
        if limit is None and remaining is None:
            continue
        put("limit_tokens", limit)
        put("remaining_tokens", remaining)
        reset = _get(headers, f"x-ratelimit-reset-tokens{suffix}")
        put("reset_tokens_s", parse_duration(reset) if reset else None)
        break

    # Anthropic.
    put("limit_requests", _number(_get(headers, "anthropic-ratelimit-requests-limit")))
    put("remaining_requests", _number(_get(headers, "anthropic-ratelimit-requests-remaining")))
    reset = _get(headers, "anthropic-ratelimit-requests-reset")
    put("reset_requests_s", _parse_rfc3339(reset, now) if reset else None)
    for kind in ("tokens", "input-tokens", "output-tokens"):
        put("limit_tokens", _number(_get(headers, f"anthropic-ratelimit-{kind}-limit")))
        put("remaining_tokens", _number(_get(headers, f"anthropic-ratelimit-{kind}-remaining")))
        reset = _get(headers, f"anthropic-ratelimit-{kind}-reset")
        put("reset_tokens_s", _parse_rfc3339(reset, now) if reset else None)

    # OpenRouter and generic gateways: one request counter, reset in epoch ms.
    put("limit_requests", _number(_get(headers, "x-ratelimit-limit")))
    put("remaining_requests", _number(_get(headers, "x-ratelimit-remaining")))
    put("reset_requests_s", _epoch_or_delta(_get(headers, "x-ratelimit-reset"), now))

    retry_after = parse_retry_after(headers, now)
    if not found and retry_after is None:
        return None
    return RateLimitInfo(
        remaining_requests=found.get("remaining_requests"),
        remaining_tokens=found.get("remaining_tokens"),
        reset_requests_s=found.get("reset_requests_s"),
        reset_tokens_s=found.get("reset_tokens_s"),
        limit_requests=found.get("limit_requests"),
        limit_tokens=found.get("limit_tokens"),
        retry_after_s=retry_after,
        requests_window_s=requests_window,
    )


def retry_after_from(info: RateLimitInfo | None) -> float | None:
    """How long a 429 asks us to wait: `retry-after`, else the reset of an exhausted budget."""
    if info is None:
        return None
    if info.retry_after_s is not None:
        return info.retry_after_s
    waits = []
    if (
        info.remaining_requests is not None
        and info.remaining_requests <= 0
        and info.reset_requests_s is not None
    ):
        waits.append(info.reset_requests_s)
    if info.remaining_tokens is not None and info.remaining_tokens <= 0 and info.reset_tokens_s is not None:
        waits.append(info.reset_tokens_s)
    return max(waits) if waits else None


def rate_limits_of(error: BaseException) -> RateLimitInfo | None:
    """The rate-limit headers attached to a backend error (None when there were none)."""
    info = getattr(error, "rate_limits", None)
    return info if isinstance(info, RateLimitInfo) else None
