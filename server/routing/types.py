"""The routing contract: a request to route one analysed task, and the plan that comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from server.analysis.types import TaskAnalysis, TaskHints
from server.catalog.schema import ModelSpec, StrategySpec, Variant

__all__ = [
    "AgentRef",
    "Availability",
    "PerformanceView",
    "Plan",
    "RouteRequest",
    "VariantPreference",
    "VariantRecord",
]

# Returns why a model's provider cannot be used right now (no key, unreachable), or None.
Availability = Callable[[ModelSpec], "str | None"]


@dataclass(frozen=True, slots=True)
class VariantRecord:
    """How one variant has done on one kind of task: decayed passes and failures.

    `successes` / `failures` count every repository; `repo_successes` / `repo_failures` count
    only the repository asked about (0 when none was asked or it has no record of its own).
    """

    successes: float
    failures: float
    repo_successes: float = 0.0
    repo_failures: float = 0.0

    @property
    def evidence(self) -> float:
        return self.successes + self.failures

    @property
    def repo_evidence(self) -> float:
        return self.repo_successes + self.repo_failures


@dataclass(frozen=True, slots=True)
class VariantPreference:
    """The variant evidence says to route a kind of task to, and why."""

    variant: Variant
    reason: str


class PerformanceView(Protocol):
    """What was learned from recorded attempts, as the router uses it (the perf tracker).

    `score_adjustment` is positive to promote a model for that task type under `strategy`,
    negative to demote it, 0 when there is no evidence; models are re-ordered within a chain by
    it, never added. `note` says why, for the rationale. `variant_evidence` is how `variant` has
    done on `task_type` tasks (also in `repo`, a key from `server.perf.repos`, when given), None
    when it was never tried; `preferred_variant` is the variant that has passed at the lowest
    weighed cost for that kind (in that repository when its own record says so), or None.
    Every method runs on the routing hot path: answer from figures in memory, never from the
    database.
    """

    def score_adjustment(self, model_id: str, task_type: str, strategy: StrategySpec | None = None) -> float: ...

    def note(self, model_id: str, task_type: str) -> str | None: ...

    def variant_evidence(self, task_type: str, variant: str, repo: str | None = None) -> VariantRecord | None: ...

    def preferred_variant(
        self, task_type: str, strategy: StrategySpec | None = None, repo: str | None = None
    ) -> VariantPreference | None: ...


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
    repo: str | None = None  # the workspace's repository key (`server.perf.repos`): learned per repository


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
    repo: str | None = None  # the repository key the plan learned from (and its attempts record)
