"""Model health: demote a model that keeps failing, probe it after a cool-down, restore it.

One `ModelHealth` per model id, fed every finished attempt in time order:

    healthy ──(success rate < 0.8 over >= 10 recent calls)──▶ demoted
    healthy ──(3 timeouts / 5xx in a row)──────────────────▶ cooled  (at once, no 10-call wait)
    demoted | cooled ──(cool-down over)──▶ probe due ──(one call starts)──▶ probing
    probing ──(probe succeeds)──▶ healthy (its recent-call window starts afresh)
    probing ──(probe fails)─────▶ demoted again, cool-down doubled (capped)

While demoted, cooled or probing the router puts the model's fallbacks first. Only one probe call
is let through per cool-down: `begin_call` marks it, and a probe whose result never arrives (the
process died) expires after `probe_timeout_s`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from server.perf.stats import AttemptFact

__all__ = ["HealthPolicy", "HealthState", "ModelHealth"]

HealthState = Literal["healthy", "demoted", "cooled", "probe_due", "probing"]


@dataclass(frozen=True)
class HealthPolicy:
    min_calls: int = 10  # judge a success rate only over at least this many recent calls
    demote_below: float = 0.8
    recent_calls: int = 20  # the rolling window of recent calls judged
    cooldown_s: float = 300.0  # first cool-down after a demotion
    max_cooldown_s: float = 3600.0
    transient_streak: int = 3  # timeouts / 5xx in a row that cool a model at once
    transient_cooldown_s: float = 60.0
    probe_timeout_s: float = 900.0


@dataclass
class HealthEvent:
    at: float
    event: str  # demoted | cooled | probe_started | probe_failed | restored
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at, "event": self.event, "reason": self.reason}


@dataclass
class ModelHealth:
    """The health of one model; `record` results in time order, ask `state(now)`."""

    model_id: str
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    recent: deque[bool] = field(default_factory=deque)
    transient_streak: int = 0
    demoted: bool = False
    reason: str = ""
    until: float = 0.0  # cool-down end (unix seconds)
    cooldown_s: float = 0.0  # the cool-down last applied, doubled on each failed probe
    probe_started_at: float | None = None
    events: list[HealthEvent] = field(default_factory=list)

    def state(self, now: float) -> HealthState:
        if not self.demoted:
            return "healthy"
        if self.probe_started_at is not None:
            if now - self.probe_started_at < self.policy.probe_timeout_s:
                return "probing"
            self.probe_started_at = None  # the probe's result never came: allow another
        if now < self.until:
            return "cooled" if self.reason.startswith("cooled") else "demoted"
        return "probe_due"

    def avoid(self, now: float) -> bool:
        """True when the router should put this model's fallbacks first."""
        return self.state(now) in ("demoted", "cooled", "probing")

    def begin_call(self, now: float) -> bool:
        """A call to this model starts; returns True when it is the probe of a demoted model."""
        if self.state(now) != "probe_due":
            return False
        self.probe_started_at = now
        self.events.append(HealthEvent(now, "probe_started", f"cool-down of {self.cooldown_s:.0f}s over"))
        return True

    @property
    def recent_success_rate(self) -> float | None:
        return sum(self.recent) / len(self.recent) if self.recent else None

    def record(self, fact: AttemptFact) -> None:
        """Feed one finished attempt (in time order)."""
        if not fact.counted:
            return
        now = fact.started_at
        if self.demoted:
            # The first result after the cool-down is the probe's, whether or not `begin_call`
            # saw it start (a scheduler without the hook still gets probe-and-restore).
            probing = self.probe_started_at is not None or now >= self.until
            if not probing:
                return  # a call that was already in flight when the model was demoted
            self.probe_started_at = None
            if fact.success:
                self._restore(now)
            else:
                self.cooldown_s = min(self.cooldown_s * 2, self.policy.max_cooldown_s)
                self.until = now + self.cooldown_s
                self.events.append(
                    HealthEvent(now, "probe_failed", f"probe call failed ({fact.error_class or 'check failed'}); "
                                f"next probe in {self.cooldown_s:.0f}s")
                )
            return
        self.recent.append(fact.success)
        while len(self.recent) > self.policy.recent_calls:
            self.recent.popleft()
        self.transient_streak = self.transient_streak + 1 if fact.transient_failure else 0
        if self.transient_streak >= self.policy.transient_streak:
            self._demote(
                now,
                f"cooled: {self.transient_streak} timeouts / server errors in a row",
                self.policy.transient_cooldown_s,
                "cooled",
            )
            return
        rate = self.recent_success_rate
        if len(self.recent) >= self.policy.min_calls and rate is not None and rate < self.policy.demote_below:
            failed = len(self.recent) - sum(self.recent)
            self._demote(
                now,
                f"failed {failed} of its last {len(self.recent)} calls "
                f"(success {rate:.0%} < {self.policy.demote_below:.0%})",
                self.policy.cooldown_s,
                "demoted",
            )

    def reset(self) -> None:
        self.recent.clear()
        self.transient_streak = 0
        self.demoted = False
        self.reason = ""
        self.until = 0.0
        self.cooldown_s = 0.0
        self.probe_started_at = None

    def _demote(self, now: float, reason: str, cooldown_s: float, event: str) -> None:
        self.demoted = True
        self.reason = reason
        self.cooldown_s = cooldown_s
        self.until = now + cooldown_s
        self.transient_streak = 0
        self.events.append(HealthEvent(now, event, reason))

    def _restore(self, now: float) -> None:
        self.events.append(HealthEvent(now, "restored", f"probe call succeeded after: {self.reason}"))
        self.demoted = False
        self.reason = ""
        self.until = 0.0
        self.cooldown_s = 0.0
        self.recent.clear()  # judge it afresh from here on
        self.transient_streak = 0

    def as_dict(self, now: float) -> dict[str, object]:
        rate = self.recent_success_rate
        return {
            "model_id": self.model_id,
            "state": self.state(now),
            "reason": self.reason or None,
            "recent_calls": len(self.recent),
            "recent_success_rate": None if rate is None else round(rate, 4),
            "cooldown_until": self.until if self.demoted else None,
            "events": [event.as_dict() for event in self.events[-10:]],
        }
