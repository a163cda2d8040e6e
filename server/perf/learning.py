"""What routing learns per task type and model: decayed evidence over a Beta prior.

Each cell (task type, model) keeps exponentially decayed sums — successes, failures, cost and
latency — so a call from one half-life ago weighs half as much as one now, and no cell is ever
capped: old evidence fades instead of being cut off. A model's first calls lean on a Beta prior
whose mean comes from the manifest (its quality score for the capability the task type needs,
nudged by tier) and whose weight is `prior_strength` pseudo-calls.

Success is objective (see `server.perf.stats.AttemptFact.success`): the call succeeded and no
check — answer parsing, patch application, validation — said otherwise. The reply's wording is
never inspected.

Per kind of task and variant the learner also keeps which variant passes (`variant_cells`), and
the same per repository (`repo_cells`, keyed by the repository key of `server.perf.repos`): a
repository's variant table shrinks its own record towards the kind's (see
`server.routing.escalation.repo_pass_rate`), so a handful of tries in one repository moves its
estimate only part of the way, and a repository with no record of its own gets the kind's.

The router's static score already reflects the manifest; `Learner.adjustment` returns only how
far observation moves a model away from that prior, in the router's quality-point units (0-10),
weighed by the strategy: quality weight on the success-rate shift, cost weight on the cost per
success that retries add, speed weight on observed vs. manifest latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from server.catalog.schema import ModelSpec, StrategySpec
from server.perf.stats import AttemptFact
from server.routing.escalation import repo_pass_rate

__all__ = [
    "CAPABILITY_BY_TASK_TYPE",
    "VARIANT_PRIORS",
    "Cell",
    "LearningPolicy",
    "Learner",
    "VariantAdvice",
    "prior_mean",
]

# The manifest capability a task type leans on (the prior's source); anything else is "code".
CAPABILITY_BY_TASK_TYPE: dict[str, str] = {
    "architecture": "reasoning",
    "algorithm": "reasoning",
    "security": "reasoning",
    "performance": "reasoning",
    "research": "reasoning",
    "docs": "general",
    "general": "general",
}


@dataclass(frozen=True)
class LearningPolicy:
    half_life_s: float = 3 * 24 * 3600.0
    prior_strength: float = 4.0  # pseudo-calls the manifest prior is worth
    min_evidence: float = 3.0  # decayed calls before a cell's note is worth telling
    note_threshold: float = 0.25  # |adjustment| (quality points) that "changed the choice"
    success_target: float = 0.85  # a variant must reach this to be advised for a task type


# Expected objective success per variant before any call (the chains' tiers, roughly).
VARIANT_PRIORS: dict[str, float] = {"speed": 0.8, "balanced": 0.87, "quality": 0.92}


@dataclass(frozen=True)
class VariantAdvice:
    """The variant that has succeeded at the lowest cost (and time, as weighed) for a task type."""

    task_type: str
    variant: str
    success: float  # posterior success rate
    cost_per_success: float | None
    evidence: float
    reason: str
    repo: str | None = None  # the repository whose own record decided it (None: the kind's)


def prior_mean(model: ModelSpec | None, task_type: str) -> float:
    """Expected objective success rate before any call: 0.5 + 0.045 x quality score, by tier."""
    if model is None:
        return 0.75
    score = model.score(CAPABILITY_BY_TASK_TYPE.get(task_type, "code"))
    mean = 0.5 + 0.045 * score  # score 10 -> 0.95, 8 -> 0.86, 5 -> 0.725
    if model.tier == "local":
        mean -= 0.03  # quantised local builds trail their published scores a little
    return min(max(mean, 0.05), 0.97)


@dataclass
class Cell:
    """Decayed evidence for one (task type, model)."""

    task_type: str
    model_id: str
    t_ref: float = 0.0  # the time the sums are decayed to
    successes: float = 0.0
    failures: float = 0.0
    cost_sum: float = 0.0  # decayed sum of cost over counted calls with a known cost
    cost_n: float = 0.0
    latency_sum_ms: float = 0.0  # decayed sum over successful calls
    expected_latency_sum_ms: float = 0.0  # what the manifest predicted for the same calls
    latency_n: float = 0.0
    calls: int = 0  # raw count, for display
    variants: dict[str, int] = field(default_factory=dict)
    last_at: float = 0.0

    def decay_to(self, now: float, half_life_s: float) -> None:
        if now <= self.t_ref:
            return
        factor = 0.5 ** ((now - self.t_ref) / half_life_s) if half_life_s > 0 else 0.0
        self.successes *= factor
        self.failures *= factor
        self.cost_sum *= factor
        self.cost_n *= factor
        self.latency_sum_ms *= factor
        self.expected_latency_sum_ms *= factor
        self.latency_n *= factor
        self.t_ref = now

    def add(self, fact: AttemptFact, model: ModelSpec | None, half_life_s: float) -> None:
        at = fact.started_at
        if at < self.t_ref:  # late arrival: weigh it by its age instead of moving the clock back
            weight = 0.5 ** ((self.t_ref - at) / half_life_s) if half_life_s > 0 else 0.0
        else:
            self.decay_to(at, half_life_s)
            weight = 1.0
        self.calls += 1
        self.last_at = max(self.last_at, at)
        if fact.variant:
            self.variants[fact.variant] = self.variants.get(fact.variant, 0) + 1
        if fact.success:
            self.successes += weight
        else:
            self.failures += weight
        if fact.cost is not None:
            self.cost_sum += weight * fact.cost
            self.cost_n += weight
        if fact.success and fact.latency_ms is not None and model is not None:
            expected_ms = 1000.0 * (model.first_token_seconds + fact.output_tokens / model.tokens_per_second)
            self.latency_sum_ms += weight * fact.latency_ms
            self.expected_latency_sum_ms += weight * max(expected_ms, 1.0)
            self.latency_n += weight

    @property
    def evidence(self) -> float:
        return self.successes + self.failures

    def posterior(self, prior: float, strength: float) -> float:
        return (prior * strength + self.successes) / (strength + self.evidence)

    @property
    def mean_cost(self) -> float | None:
        return self.cost_sum / self.cost_n if self.cost_n > 0 else None

    @property
    def mean_latency_ms(self) -> float | None:
        return self.latency_sum_ms / self.latency_n if self.latency_n > 0 else None

    @property
    def latency_ratio(self) -> float | None:
        """Observed / manifest-predicted latency of successful calls (1.0 = as advertised)."""
        if self.latency_n <= 0 or self.expected_latency_sum_ms <= 0:
            return None
        return self.latency_sum_ms / self.expected_latency_sum_ms


class Learner:
    """All cells, with the arithmetic that turns them into router adjustments."""

    def __init__(self, policy: LearningPolicy | None = None) -> None:
        self.policy = policy or LearningPolicy()
        self.cells: dict[tuple[str, str], Cell] = {}
        # (task type, variant) across models: which variant pays off for a kind of work.
        self.variant_cells: dict[tuple[str, str], Cell] = {}
        # (task type, repository key, variant): the same, in one repository.
        self.repo_cells: dict[tuple[str, str, str], Cell] = {}

    def clear(self) -> None:
        self.cells.clear()
        self.variant_cells.clear()
        self.repo_cells.clear()

    def add(self, fact: AttemptFact, model: ModelSpec | None, *, per_repo: bool = True) -> None:
        """Learn from one settled attempt (`per_repo=False`: not in its repository's own record)."""
        if not fact.counted or not fact.task_type:
            return
        key = (fact.task_type, fact.model_id)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(fact.task_type, fact.model_id, t_ref=fact.started_at)
        cell.add(fact, model, self.policy.half_life_s)
        if fact.variant:
            vkey = (fact.task_type, fact.variant)
            vcell = self.variant_cells.get(vkey)
            if vcell is None:
                vcell = self.variant_cells[vkey] = Cell(fact.task_type, "", t_ref=fact.started_at)
            vcell.add(fact, model, self.policy.half_life_s)
            if fact.repo and per_repo:
                rkey = (fact.task_type, fact.repo, fact.variant)
                rcell = self.repo_cells.get(rkey)
                if rcell is None:
                    rcell = self.repo_cells[rkey] = Cell(fact.task_type, "", t_ref=fact.started_at)
                rcell.add(fact, model, self.policy.half_life_s)

    def forget(self, task_type: str | None = None, repo: str | None = None) -> int:
        """Drop the variant records of a kind of task and/or a repository; how many were dropped.

        With `repo`, only that repository's own records go (the kind-wide ones keep what every
        repository taught); without it, the kind's records in every repository go too.
        """
        dropped = 0
        if repo is None:
            for vkey in [k for k in self.variant_cells if task_type is None or k[0] == task_type]:
                del self.variant_cells[vkey]
                dropped += 1
        for rkey in [k for k in self.repo_cells
                     if (task_type is None or k[0] == task_type) and (repo is None or k[1] == repo)]:
            del self.repo_cells[rkey]
            dropped += 1
        return dropped

    def repos(self, task_type: str | None = None) -> list[tuple[str, str]]:
        """The (task type, repository) pairs with a record of their own, sorted."""
        return sorted({(k[0], k[1]) for k in self.repo_cells if task_type is None or k[0] == task_type})

    def variant_record(self, task_type: str, variant: str, repo: str | None, now: float) -> tuple[Cell, Cell | None] | None:
        """(kind-wide cell, the repository's cell or None), decayed to `now`; None if never tried."""
        cell = self.variant_cells.get((task_type, variant))
        if cell is None:
            return None
        cell.decay_to(now, self.policy.half_life_s)
        rcell = self.repo_cells.get((task_type, repo, variant)) if repo else None
        if rcell is not None:
            rcell.decay_to(now, self.policy.half_life_s)
        return cell, rcell

    def forget_model(self, model_id: str) -> None:
        """Drop a model's per-task-type evidence (after it recovered from a demotion)."""
        for key in [k for k in self.cells if k[1] == model_id]:
            del self.cells[key]

    def cell(self, task_type: str, model_id: str, now: float) -> Cell | None:
        cell = self.cells.get((task_type, model_id))
        if cell is not None:
            cell.decay_to(now, self.policy.half_life_s)
        return cell

    def adjustment(
        self, model: ModelSpec | None, model_id: str, task_type: str, strategy: StrategySpec | None, now: float
    ) -> tuple[float, dict[str, Any]]:
        """(adjustment in quality points, its parts) for routing `task_type` to `model_id`."""
        cell = self.cell(task_type, model_id, now)
        if cell is None or cell.evidence <= 0:
            return 0.0, {}
        prior = prior_mean(model, task_type)
        strength = self.policy.prior_strength
        posterior = cell.posterior(prior, strength)
        w_cost, w_speed, w_quality = _weights(strategy)
        # Quality: the shift in expected success rate, on the 0-10 scale of manifest scores.
        quality = 10.0 * (posterior - prior)
        # Cost: every failure is paid for and retried, so cost per success scales with 1/p.
        cost = 2.0 * math.log(posterior / prior)
        # Speed: retries cost time too, and so does a model slower than its manifest says.
        speed = 2.0 * math.log(posterior / prior)
        ratio = cell.latency_ratio
        if ratio is not None:
            shrink = cell.latency_n / (cell.latency_n + strength)
            speed -= 2.0 * shrink * math.log(min(max(ratio, 0.05), 20.0))
        total = w_quality * quality + w_cost * cost + w_speed * speed
        parts = {
            "prior_success": round(prior, 4),
            "observed_success": round(posterior, 4),
            "evidence": round(cell.evidence, 2),
            "latency_ratio": round(ratio, 3) if ratio is not None else None,
            "quality_part": round(w_quality * quality, 3),
            "cost_part": round(w_cost * cost, 3),
            "speed_part": round(w_speed * speed, 3),
        }
        return total, parts


    def variant_table(
        self, task_type: str, now: float, repo: str | None = None
    ) -> dict[str, dict[str, float | None]]:
        """Per variant: posterior success, mean cost, cost and latency per success, evidence.

        With `repo`: each variant's success is the repository's own record shrunk towards the
        kind's (`repo_evidence` says how much of its own it has); cost and latency are the
        repository's own when it has them.
        """
        table: dict[str, dict[str, float | None]] = {}
        for (cell_type, variant), cell in self.variant_cells.items():
            if cell_type != task_type:
                continue
            cell.decay_to(now, self.policy.half_life_s)
            success = cell.posterior(VARIANT_PRIORS.get(variant, 0.85), self.policy.prior_strength)
            cost = cell.mean_cost
            latency = cell.mean_latency_ms
            row: dict[str, float | None] = {}
            if repo:
                own = self.repo_cells.get((task_type, repo, variant))
                if own is not None:
                    own.decay_to(now, self.policy.half_life_s)
                    success = repo_pass_rate(success, own.successes, own.failures)
                    cost = own.mean_cost if own.mean_cost is not None else cost
                    latency = own.mean_latency_ms if own.mean_latency_ms is not None else latency
                row = {
                    "repo_evidence": round(own.evidence, 2) if own else 0.0,
                    "repo_decayed_successes": round(own.successes, 3) if own else 0.0,
                    "repo_decayed_failures": round(own.failures, 3) if own else 0.0,
                    "repo_calls": float(own.calls) if own else 0.0,
                }
            table[variant] = {
                "success": round(success, 4),
                "evidence": round(cell.evidence, 2),
                "decayed_successes": round(cell.successes, 3),
                "decayed_failures": round(cell.failures, 3),
                "calls": float(cell.calls),
                **row,
                "mean_cost_usd": None if cost is None else round(cost, 8),
                "cost_per_success_usd": None if cost is None else round(cost / success, 8),
                "latency_per_success_ms": None if latency is None else round(latency / success, 1),
            }
        return table

    def best_variant(
        self, task_type: str, strategy: StrategySpec | None, now: float, repo: str | None = None
    ) -> VariantAdvice | None:
        """The variant worth routing `task_type` to (in `repo`, when it has a record of its own),
        from evidence alone; None if too little is known."""
        own = bool(repo) and any(k[0] == task_type and k[1] == repo for k in self.repo_cells)
        table = self.variant_table(task_type, now, repo if own else None)
        candidates = {
            variant: row
            for variant, row in table.items()
            if (row["evidence"] or 0) >= self.policy.min_evidence
            and (row["success"] or 0) >= self.policy.success_target
            and row["cost_per_success_usd"] is not None
        }
        if not candidates:
            return None
        w_cost, w_speed, w_quality = _weights(strategy)
        floor_cost = min(max(row["cost_per_success_usd"] or 0.0, 1e-9) for row in candidates.values())
        latencies = [row["latency_per_success_ms"] for row in candidates.values() if row["latency_per_success_ms"]]
        floor_latency = min(latencies) if latencies else None

        def score(row: dict[str, float | None]) -> float:
            value = w_quality * 10.0 * (row["success"] or 0.0)
            value -= w_cost * 2.0 * math.log(max(row["cost_per_success_usd"] or 0.0, 1e-9) / floor_cost)
            if floor_latency and row["latency_per_success_ms"]:
                value -= w_speed * 2.0 * math.log(row["latency_per_success_ms"] / floor_latency)
            return value

        variant = max(candidates, key=lambda name: score(candidates[name]))
        row = candidates[variant]
        cps = row["cost_per_success_usd"]
        where = f"; ~{row.get('repo_evidence') or 0:.0f} of them in this repository" if own else ""
        return VariantAdvice(
            task_type=task_type,
            variant=variant,
            success=row["success"] or 0.0,
            cost_per_success=cps,
            evidence=row["evidence"] or 0.0,
            reason=(
                f"{variant} succeeded {row['success']:.0%} on {task_type} tasks "
                f"(~{row['evidence']:.0f} recent calls{where}) at ${cps:.4f} per success"
            ),
            repo=repo if own else None,
        )


def _weights(strategy: StrategySpec | None) -> tuple[float, float, float]:
    if strategy is None:
        return 1 / 3, 1 / 3, 1 / 3
    total = strategy.weight_cost + strategy.weight_speed + strategy.weight_quality
    if total <= 0:
        return 1 / 3, 1 / 3, 1 / 3
    return strategy.weight_cost / total, strategy.weight_speed / total, strategy.weight_quality / total
