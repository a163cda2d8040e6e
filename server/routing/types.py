"""The routing contract: a request to route one analysed task, and the plan that comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.analysis.types import TaskAnalysis, TaskHints
from server.catalog.schema import ModelSpec, StrategySpec, Variant

__all__ = ["AgentRef", "Availability", "PerformanceView", "Plan", "RouteRequest", "VariantEvidence"]

# Returns why a model's provider cannot be used right now (no key, unreachable), or None.
Availability = Callable[[ModelSpec], "str | None"]


class PerformanceView(Protocol):
    """Recent model performance, as the router may use it (filled by the perf tracker).

    `score_adjustment` is positive to promote a model for that task type, negative to demote it,
    0 when there is no evidence. Models are re-ordered within a chain by it, never added.
    Both methods are called on the routing hot path (per candidate, per decision): answer from
    precomputed figures, never from the database.
    """

    def score_adjustment(self, model_id: str, task_type: str, strategy: StrategySpec | None = None) -> float: ...

    def note(self, model_id: str, task_type: str) -> str | None: ...


class VariantEvidence(Protocol):
    """Optional on a PerformanceView: what was learned per kind of task and variant.

    `variant_evidence` returns decayed (successes, failures) of `variant` on `task_type` tasks
    (in `repo` when given and known), or None when nothing was recorded. `preferred_variant`
    is the perf tracker's advice (an object with a `variant` attribute) or None.
    """

    def variant_evidence(self, task_type: str, variant: str, repo: str | None = None) -> tuple[float, float] | None: ...

    def preferred_variant(self, task_type: str, strategy: StrategySpec | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class AgentRef:
    """An agent type as the caller named it: `aria_coder_backend_speed_2` ->
    agent `aria_coder_backend`, variant `speed`, worker `2`."""

    agent: str
    variant: Variant | None = None
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """Everything the router needs for one task."""

    analysis: TaskAnalysis
    agent: AgentRef | None = None  # None: the router picks an agent for the task type
    strategy: str = "balanced"
    policy: str | None = None
    hints: TaskHints = field(default_factory=TaskHints)
    min_variant: Variant | None = None  # the caller's floor: never route below this variant
    local_only: bool = False
    free_only: bool = False
    budget_paused: bool = False  # over budget: paid models are not allowed
    max_cost: float | None = None  # per-task cap in USD (tighter of this and the policy's)
    require_available: bool = False  # exclude models whose provider is unusable right now
    checked: bool = False  # the answer will be checked (validate, or a workspace with tests)
    repo: str | None = None  # the workspace, when known (learned pass rates per repository)


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a task goes, what it should cost, and why."""

    agent: str
    variant: Variant
    agent_name: str  # e.g. "aria_coder_backend_speed" (worker label kept: "aria_coder_quality_1")
    model_id: str
    fallback_model_ids: tuple[str, ...]
    escalation: tuple[tuple[Variant, tuple[str, ...]], ...]  # higher variants and their models
    estimated_cost: float  # USD
    estimated_time: float  # seconds
    rationale: str
    excluded: dict[str, str]  # model id -> why it was left out
    input_tokens: int
    output_tokens: int
    max_tokens: int
    strategy: str = "balanced"
    policy: str | None = None
    temperature: float | None = None
    variant_reason: str = ""
    notes: tuple[str, ...] = ()
    checked: bool = False  # planned as try-check-escalate
    expected_check_cost: float | None = None  # USD expected over the escalation chain, when checked
