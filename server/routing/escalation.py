"""Escalation by checks, and learned pass rates per kind of task and variant.

Where a task's answer will be checked (it has `validate`, or its workspace has tests), the
cheapest route is often "try a cheap variant, check, escalate on failure": every try costs its
price, and each failed check moves on to the next variant up. For a chain of variants tried in
order, with per-try cost c_i and pass rate p_i,

    E[cost] = c_1 + (1 - p_1) c_2 + (1 - p_1)(1 - p_2) c_3 + ...

`plan_by_checks` computes that for every possible starting variant and starts where it is
lowest (ties: the lower expected time). A variant whose pass rate is below `MIN_PASS_RATE` is
skipped: trying it mostly buys a failed check. The arithmetic goes into the plan's rationale.

Pass rates: a prior by complexity (`prior_pass_rate`), updated by decayed evidence of how that
variant did on that kind of task (`pass_rate`, a Beta posterior with `PRIOR_STRENGTH`
pseudo-attempts). In a known repository that kind-wide rate is in turn the prior of the
repository's own record (`repo_pass_rate`, worth `REPO_STRENGTH` pseudo-attempts): a repository
with few tries of its own is shrunk towards its kind of task, and one with many speaks for
itself. `learned_raise` uses the same posterior for unchecked tasks: when the chosen
variant keeps failing a kind of task, start that kind higher; as the failures decay, the lower
variant is tried again, and stays if it passes.

Everything here is pure arithmetic over small tuples: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.catalog.schema import VARIANTS, Variant

__all__ = [
    "MIN_EVIDENCE",
    "MIN_PASS_RATE",
    "PRIOR_STRENGTH",
    "RAISE_BELOW",
    "REPO_STRENGTH",
    "CheckDecision",
    "VariantOption",
    "expected_chain",
    "learned_raise",
    "pass_rate",
    "plan_by_checks",
    "prior_pass_rate",
    "repo_pass_rate",
]

# A variant that passes less often than this is not worth a try before a check.
MIN_PASS_RATE = 0.25
# Pseudo-attempts the complexity prior is worth against observed attempts.
PRIOR_STRENGTH = 4.0
# Pseudo-attempts the kind-wide pass rate is worth against one repository's own attempts.
REPO_STRENGTH = 3.0
# Decayed observed attempts before learned pass rates may move an unchecked task's variant.
MIN_EVIDENCE = 3.0
# An unchecked task starts above a variant whose learned pass rate for its kind is below this.
RAISE_BELOW = 0.5

# Pass rate at complexity 0 and its drop per complexity point, by variant (a prior only: the
# issue's recorded outcomes put cheap coding models near 60% and strong ones near 75-80%).
_PRIOR: dict[str, tuple[float, float]] = {
    "speed": (0.92, 0.075),
    "balanced": (0.96, 0.05),
    "quality": (0.98, 0.035),
}


def prior_pass_rate(variant: Variant, complexity: int) -> float:
    """Expected chance that one try of `variant` passes the check, before any evidence."""
    base, slope = _PRIOR[variant]
    return min(max(base - slope * complexity, 0.05), 0.97)


def pass_rate(prior: float, successes: float, failures: float) -> float:
    """Posterior pass rate from the prior and decayed observed successes / failures."""
    return (prior * PRIOR_STRENGTH + successes) / (PRIOR_STRENGTH + successes + failures)


def repo_pass_rate(kind_rate: float, successes: float, failures: float) -> float:
    """A repository's pass rate: its own decayed record, shrunk towards its kind's `kind_rate`."""
    return (kind_rate * REPO_STRENGTH + successes) / (REPO_STRENGTH + successes + failures)


@dataclass(frozen=True, slots=True)
class VariantOption:
    """One variant as a step of try-check-escalate."""

    variant: Variant
    cost: float  # USD of one try (the variant's first model's estimate)
    time_s: float  # seconds of one try
    pass_rate: float  # chance one try passes the check
    evidence: float = 0.0  # decayed observed attempts behind `pass_rate` (0: prior only)
    repo_evidence: float = 0.0  # of those, in the task's repository


@dataclass(frozen=True, slots=True)
class CheckDecision:
    """Where try-check-escalate should start, and the arithmetic behind it."""

    start: Variant
    expected_cost: float
    expected_time_s: float
    pass_probability: float  # chance some try in the chain passes
    by_start: tuple[tuple[Variant, float], ...]  # expected cost when starting at each variant
    skipped: tuple[Variant, ...]  # pass rate below MIN_PASS_RATE
    rationale: str


def expected_chain(options: Sequence[VariantOption]) -> tuple[float, float, float]:
    """(expected cost, expected time, chance of passing) trying `options` in order until one passes."""
    reach = 1.0
    cost = time_s = 0.0
    for option in options:
        cost += reach * option.cost
        time_s += reach * option.time_s
        reach *= 1.0 - option.pass_rate
    return cost, time_s, 1.0 - reach


def plan_by_checks(options: Sequence[VariantOption]) -> CheckDecision:
    """Choose the starting variant for a checked task.

    `options` are the variants the task may use, cheapest tier first (already at or above any
    floor). Raises ValueError when `options` is empty.
    """
    if not options:
        raise ValueError("plan_by_checks needs at least one variant")
    ordered = sorted(options, key=lambda o: VARIANTS.index(o.variant))
    top = ordered[-1]
    # The top variant is always kept: it is where a failed check ends up.
    kept = [o for o in ordered[:-1] if o.pass_rate >= MIN_PASS_RATE] + [top]
    skipped = tuple(o.variant for o in ordered[:-1] if o.pass_rate < MIN_PASS_RATE)
    results: list[tuple[VariantOption, float, float, float]] = []
    for index, option in enumerate(kept):
        cost, time_s, passes = expected_chain(kept[index:])
        results.append((option, cost, time_s, passes))
    best = min(results, key=lambda r: (round(r[1], 9), r[2]))
    start, cost, time_s, passes = best
    steps = ", ".join(f"{o.variant} ${o.cost:.4f} x pass {o.pass_rate:.0%}{_basis(o)}" for o in kept)
    by_start = ", ".join(f"from {o.variant} ${c:.4f}" for o, c, _t, _p in results)
    rationale = (
        f"checked task: try-check-escalate from {start.variant} (expected ${cost:.4f}, {time_s:.0f}s, "
        f"passes {passes:.0%}); {steps}; expected cost {by_start}"
    )
    if skipped:
        low = ", ".join(f"{o.variant} pass {o.pass_rate:.0%}{_basis(o)}" for o in ordered[:-1] if o.variant in skipped)
        rationale += f"; skipped {low}: passes under {MIN_PASS_RATE:.0%}"
    return CheckDecision(
        start=start.variant,
        expected_cost=cost,
        expected_time_s=time_s,
        pass_probability=passes,
        by_start=tuple((o.variant, c) for o, c, _t, _p in results),
        skipped=skipped,
        rationale=rationale,
    )


def _basis(option: VariantOption) -> str:
    if option.evidence < 1:
        return " (prior)"
    if option.repo_evidence >= 1:
        return f" (~{option.evidence:.0f} recent tries, ~{option.repo_evidence:.0f} in this repository)"
    return f" (~{option.evidence:.0f} recent tries)"


def learned_raise(variant: Variant, rates: Mapping[Variant, tuple[float, ...]]) -> tuple[Variant, str] | None:
    """For an unchecked task: the variant to start at instead of `variant`, when evidence says so.

    `rates` maps each variant to (posterior pass rate, decayed evidence[, of which in the task's
    repository]) for this kind of task. Returns None when `variant`'s own record is fine or too
    thin to act on; otherwise the lowest higher variant whose record is not poor, and why.
    """
    rate, evidence, *in_repo = rates.get(variant, (1.0, 0.0))
    if evidence < MIN_EVIDENCE or rate >= RAISE_BELOW:
        return None
    where = (
        f"~{evidence:.0f} recent tries of this kind, ~{in_repo[0]:.0f} in this repository"
        if in_repo and in_repo[0] >= 1 else f"~{evidence:.0f} recent tries of this kind"
    )
    for higher in VARIANTS[VARIANTS.index(variant) + 1 :]:
        higher_rate, higher_evidence, *_ = rates.get(higher, (1.0, 0.0))
        if higher_evidence < MIN_EVIDENCE or higher_rate >= RAISE_BELOW or higher == VARIANTS[-1]:
            return higher, f"raised to {higher}: {variant} passed {rate:.0%} ({where})"
    return None
