"""Hold requests back before a provider would refuse them.

`RateLimiter` keeps one provider's (or one model's) request and token budgets: a sliding
window of the requests we sent, a token bucket for tokens per minute, both seeded from the
manifests and tightened by what the provider's own headers say (`RateLimitInfo`: remaining
requests / tokens and when they reset). `Cooldowns` remembers, per (provider, model), until
when a 429 / Retry-After told us to stay away; a later, smaller Retry-After never shortens it.

Everything here is pure bookkeeping on an explicit `now` (seconds on a monotonic clock), so
it is unit-tested without sleeping. `window_s` is the length of a "minute" (60 s; benchmarks
compress time by shortening it, for the provider and for us alike).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from server.backends.base import RateLimitInfo

__all__ = ["Cooldowns", "RateLimiter"]

_MINUTE = 60.0


@dataclass
class RateLimiter:
    """Request and token budgets for one provider (or model); `None` limits are unlimited."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    window_s: float = _MINUTE
    # Our send time precedes the provider's arrival time by a little: keep that much slack.
    margin_s: float = 0.02
    _sent: deque[float] = field(default_factory=deque)
    # Header-derived request allowance: how many more we may send before `_req_reset_at`.
    _req_remaining: float | None = None
    _req_reset_at: float = 0.0
    _tokens: float = 0.0
    _tokens_at: float | None = None
    _tok_remaining: float | None = None
    _tok_reset_at: float = 0.0
    _blocked_until: float = 0.0

    def delay(self, now: float, tokens: int = 0) -> float:
        """Seconds to wait before a request of `tokens` may be sent (0 = send now)."""
        wait = max(0.0, self._blocked_until - now)
        limit = self.requests_per_minute
        if limit is not None:
            self._trim(now)
            allowed = max(1, int(limit))
            if len(self._sent) >= allowed:
                wait = max(wait, self._sent[len(self._sent) - allowed] + self.window_s + self.margin_s - now)
        if self._req_remaining is not None and now < self._req_reset_at and self._req_remaining < 1:
            wait = max(wait, self._req_reset_at - now)
        if self.tokens_per_minute is not None and tokens > 0:
            level = self._level(now)
            need = min(float(tokens), self.tokens_per_minute)  # an oversized request waits for a full bucket
            if level < need:
                wait = max(wait, (need - level) / (self.tokens_per_minute / self.window_s))
        if self._tok_remaining is not None and now < self._tok_reset_at and self._tok_remaining < tokens:
            wait = max(wait, self._tok_reset_at - now)
        return max(0.0, wait)

    def record(self, now: float, tokens: int = 0) -> None:
        """A request of `tokens` was just let through."""
        self._trim(now)
        self._sent.append(now)
        if self._req_remaining is not None and now < self._req_reset_at:
            self._req_remaining -= 1
        if self.tokens_per_minute is not None and tokens > 0:
            self._tokens = self._level(now) - tokens
        if self._tok_remaining is not None and now < self._tok_reset_at:
            self._tok_remaining -= tokens

    def observe(self, info: RateLimitInfo, now: float, sent_at: float | None = None) -> None:
        """Tighten the budgets from a response's headers (the response to a request sent at `sent_at`)."""
        # Requests we let through after this one was sent are not in the provider's count yet.
        later = sum(1 for t in self._sent if sent_at is not None and t > sent_at)
        # A per-minute limit (not Groq's per-day pair) tightens ours; a looser one never widens it.
        if info.limit_requests is not None and info.requests_window_s <= _MINUTE:
            if self.requests_per_minute is None or info.limit_requests < self.requests_per_minute:
                self.requests_per_minute = info.limit_requests
        if info.remaining_requests is not None:
            reset = info.reset_requests_s if info.reset_requests_s is not None else self.window_s
            self._req_remaining = info.remaining_requests - later
            self._req_reset_at = now + max(0.0, reset)
        if info.limit_tokens is not None and (
            self.tokens_per_minute is None or info.limit_tokens < self.tokens_per_minute
        ):
            self.tokens_per_minute = info.limit_tokens
            self._tokens = min(self._level(now), info.limit_tokens)
        if info.remaining_tokens is not None:
            reset = info.reset_tokens_s if info.reset_tokens_s is not None else self.window_s
            self._tok_remaining = info.remaining_tokens
            self._tok_reset_at = now + max(0.0, reset)
        if info.retry_after_s is not None and info.retry_after_s > 0:
            self.block_until(now + info.retry_after_s)

    def block_until(self, until: float) -> None:
        """Send nothing before `until` (a provider-wide Retry-After); never shortens a block."""
        self._blocked_until = max(self._blocked_until, until)

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()

    def _level(self, now: float) -> float:
        capacity = self.tokens_per_minute or 0.0
        if self._tokens_at is None:
            self._tokens, self._tokens_at = capacity, now
        elapsed = max(0.0, now - self._tokens_at)
        self._tokens = min(capacity, self._tokens + elapsed * capacity / self.window_s)
        self._tokens_at = now
        return self._tokens


@dataclass
class Cooldowns:
    """Per (provider, model): the time before which no request may go out."""

    _until: dict[tuple[str, str], float] = field(default_factory=dict)

    def extend(self, provider: str, model: str, until: float) -> float:
        """Stay away from (provider, model) until at least `until`; returns the effective end."""
        key = (provider, model)
        current = self._until.get(key, 0.0)
        if until > current:
            self._until[key] = until
            return until
        return current

    def remaining(self, provider: str, model: str, now: float) -> float:
        return max(0.0, self._until.get((provider, model), 0.0) - now)
