"""Plain figures over recorded attempts: what one call looked like, and aggregates over many.

`AttemptFact` is the engine's view of one attempt row (the store's columns, mapped in
`server.perf.queries`). `Aggregate` accumulates calls, tokens, cost, latencies and outcomes and
answers percentiles; it is used by the tracker, the reports and the dashboard alike, so the three
always agree on what "success rate" and "p95" mean.

Outcome rules (one place, so reports and routing agree):
- a call counts as a success when it succeeded and nothing objective said its output was
  bad (validation failed, the answer did not parse);
- rate limits, cancellations, interruptions, prompts refused before sending and answers no check
  could judge (their test runner is not installed: `validation_unavailable`) say nothing about
  the model, so they are left out of success rates (they still count as calls and cost);
- a call's price is unknown only when it was charged without one (`unpriced_charge`): a failed
  call with no cost was charged nothing, so its price does not matter.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "BILLED_STATUSES",
    "NEUTRAL_ERROR_CLASSES",
    "TRANSIENT_ERROR_CLASSES",
    "Aggregate",
    "AttemptFact",
    "percentile",
]

# Error classes that are not the model's fault: excluded from success rates, whatever the call's status
# (`validation_unavailable` marks an answer that arrived but that no check could judge).
NEUTRAL_ERROR_CLASSES: frozenset[str] = frozenset(
    {"rate_limited", "cancelled", "interrupted", "context_too_large", "budget_exceeded", "budget",
     "validation_unavailable"}
)
# Statuses of a call the provider bills even with no cost reported (the ledger's rule, in
# `server.store.ledger.BILLED_WITHOUT_FIGURE`; tests/perf/test_report.py checks they agree): such a
# call with no known price is charged its reservation.
BILLED_STATUSES: frozenset[str] = frozenset({"succeeded", "interrupted", "cancelled"})
# Error classes that mean "the endpoint is struggling": several in a row cool a model at once.
TRANSIENT_ERROR_CLASSES: frozenset[str] = frozenset({"timeout", "bad_response", "server_error", "stream_error"})
# The share of a call the post-first-token window must span to measure streaming speed.
MIN_GENERATION_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class AttemptFact:
    """One model call as the performance code sees it."""

    model_id: str
    status: str  # succeeded | failed | interrupted | cancelled | running
    started_at: float  # unix seconds
    provider: str = ""
    task_type: str = ""
    variant: str = ""
    agent: str = ""
    error_class: str | None = None
    http_status: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None  # the call's own cost; None = unknown (never taken as $0)
    charged: float | None = None  # what the budgets counted (the store's charged_usd)
    cost_source: str = ""
    latency_ms: float | None = None
    first_token_ms: float | None = None
    validation_passed: bool | None = None  # None = the task was not validated
    attempt_id: int | None = None
    group_id: str | None = None
    policy: str = ""
    group_name: str = ""
    day: str = ""  # local calendar date the store filed the call under (YYYY-MM-DD)
    repo: str = ""  # the repository key the task worked in (`server.perf.repos`); "" = none

    @property
    def counted(self) -> bool:
        """True when the outcome says something about the model (see the module docstring)."""
        if (self.error_class or "") in NEUTRAL_ERROR_CLASSES:
            return False
        return self.status in ("succeeded", "failed")

    @property
    def unpriced_charge(self) -> bool:
        """Charged (at its reservation) without a known price: a billed call with no cost."""
        return self.cost is None and self.status in BILLED_STATUSES

    @property
    def success(self) -> bool:
        """Objective success: the call succeeded and no check said its output was bad."""
        return self.status == "succeeded" and self.validation_passed is not False

    @property
    def transient_failure(self) -> bool:
        """A timeout or a 5xx / broken response: the endpoint, not the task, is at fault."""
        if self.status != "failed":
            return False
        if self.http_status is not None and self.http_status >= 500:
            return True
        return (self.error_class or "") in TRANSIENT_ERROR_CLASSES

    @property
    def tokens_per_second(self) -> float | None:
        """Output speed after the first token; over the whole call when that window says nothing.

        A provider that buffers its answer sends every token within a millisecond of the first,
        so the window after the first token can be near zero (a 1.5 s call once read as 1.7
        million tokens/s). Below `MIN_GENERATION_SHARE` of the call, or with no first-token
        time, the whole latency is the denominator.
        """
        if self.latency_ms is None or self.latency_ms <= 0 or self.output_tokens <= 0:
            return None
        generating_ms = self.latency_ms - (self.first_token_ms or 0.0)
        if self.first_token_ms is None or generating_ms < MIN_GENERATION_SHARE * self.latency_ms:
            generating_ms = self.latency_ms
        return self.output_tokens / (generating_ms / 1000.0)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None if empty."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * (q / 100.0)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction)


@dataclass
class Aggregate:
    """Running totals over a set of attempts."""

    calls: int = 0
    counted: int = 0
    successes: int = 0
    failures: int = 0
    validated: int = 0
    validation_passed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0  # sum of known call costs
    spend: float = 0.0  # sum of what the budgets were charged (unknown prices held at estimate)
    unknown_cost_calls: int = 0  # charged without a known price (`AttemptFact.unpriced_charge`)
    latencies_ms: list[float] = field(default_factory=list)
    speeds_tps: list[float] = field(default_factory=list)
    error_classes: Counter[str] = field(default_factory=Counter)

    def add(self, fact: AttemptFact) -> None:
        self.calls += 1
        self.input_tokens += fact.input_tokens
        self.output_tokens += fact.output_tokens
        self.cached_tokens += fact.cached_tokens
        self.reasoning_tokens += fact.reasoning_tokens
        cost = fact.cost
        if cost is not None:
            self.cost += cost
        elif fact.unpriced_charge:
            self.unknown_cost_calls += 1
        self.spend += fact.charged if fact.charged is not None else (cost or 0.0)
        status = fact.status
        if status == "failed":
            self.error_classes[fact.error_class or "unknown"] += 1
        if fact.counted:
            self.counted += 1
            if fact.success:
                self.successes += 1
            else:
                self.failures += 1
        if fact.validation_passed is not None:
            self.validated += 1
            self.validation_passed += int(fact.validation_passed)
        if status == "succeeded" and fact.latency_ms is not None:
            self.latencies_ms.append(fact.latency_ms)
            speed = fact.tokens_per_second
            if speed is not None:
                self.speeds_tps.append(speed)

    def extend(self, facts: Iterable[AttemptFact]) -> Aggregate:
        for fact in facts:
            self.add(fact)
        return self

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.counted if self.counted else None

    @property
    def validation_pass_rate(self) -> float | None:
        return self.validation_passed / self.validated if self.validated else None

    def latency_percentiles(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies_ms)
        return {
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99),
        }

    @property
    def median_tokens_per_second(self) -> float | None:
        return percentile(sorted(self.speeds_tps), 50)

    def summary(self) -> dict[str, object]:
        """A JSON-ready dict of every figure (latencies in ms, cost in USD)."""
        lat = self.latency_percentiles()
        return {
            "calls": self.calls,
            "successes": self.successes,
            "failures": self.failures,
            "success_rate": _round(self.success_rate, 4),
            "validation_pass_rate": _round(self.validation_pass_rate, 4),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "spend_usd": round(self.spend, 6),
            "known_cost_usd": round(self.cost, 6),
            "unknown_cost_calls": self.unknown_cost_calls,
            "latency_ms": {key: _round(value, 1) for key, value in lat.items()},
            "output_tokens_per_s": _round(self.median_tokens_per_second, 1),
            "error_classes": dict(self.error_classes.most_common()),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
