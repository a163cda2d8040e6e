"""The analysis contract: what a caller may tell us about a task, and what the analysis returns.

Both are frozen dataclasses (plain data inside the engine). The tools declare the same hints once
as a pydantic model (`tools._inputs.CallerHints`); its dump is kept with the task and turned into
`TaskHints` by `TaskHints.from_mapping`, the one conversion. Every hint is optional; an explicit
hint always wins over what the analyzer reads from the description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = [
    "BUDGET_MODES",
    "EFFORTS",
    "EFFORT_BANDS",
    "QUALITY_REQUIREMENTS",
    "SCOPES",
    "SEVERITIES",
    "TASK_TYPES",
    "BudgetMode",
    "Effort",
    "QualityRequirement",
    "Scope",
    "VariantFloor",
    "Severity",
    "TaskAnalysis",
    "TaskHints",
]

Severity = Literal["low", "medium", "high", "critical"]
Effort = Literal["trivial", "simple", "moderate", "complex", "very_complex"]
QualityRequirement = Literal["low", "standard", "high", "enterprise"]
BudgetMode = Literal["normal", "local_only", "free_only"]
Scope = Literal["function", "file", "multi_file", "system"]
VariantFloor = Literal["speed", "balanced", "quality"]

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
EFFORTS: tuple[str, ...] = ("trivial", "simple", "moderate", "complex", "very_complex")
QUALITY_REQUIREMENTS: tuple[str, ...] = ("low", "standard", "high", "enterprise")
BUDGET_MODES: tuple[str, ...] = ("normal", "local_only", "free_only")
SCOPES: tuple[str, ...] = ("function", "file", "multi_file", "system")
# The kinds of coding work the analyzer recognises; "general" when nothing matched.
TASK_TYPES: tuple[str, ...] = (
    "crud",
    "ui",
    "api",
    "integration",
    "schema",
    "architecture",
    "algorithm",
    "security",
    "performance",
    "bug_fix",
    "tests",
    "docs",
    "refactor",
    "devops",
    "research",
    "general",
)
# The complexity band (inclusive) a caller's effort estimate pins the score into.
EFFORT_BANDS: dict[str, tuple[int, int]] = {
    "trivial": (1, 2),
    "simple": (1, 3),
    "moderate": (4, 6),
    "complex": (7, 8),
    "very_complex": (9, 10),
}


@dataclass(frozen=True, slots=True)
class TaskHints:
    """What the caller says about a task beyond its description (all optional)."""

    agent_type: str | None = None
    urgent: bool = False
    time_sensitive: bool = False
    severity: Severity | None = None
    estimated_effort: Effort | None = None
    quality_requirement: QualityRequirement | None = None
    cost_sensitive: bool = False
    enterprise_requirements: bool = False
    quality_critical: bool = False
    production_code: bool = False
    performance_target: str | None = None  # e.g. "speed_critical"
    context_tokens: int | None = None  # tokens of context the caller will send with the task
    files: tuple[str, ...] = ()
    budget_mode: BudgetMode = "normal"
    complexity: int | None = None  # explicit 1-10 override
    task_type: str | None = None  # explicit override, one of TASK_TYPES
    min_variant: VariantFloor | None = None  # never route below this variant
    max_cost: float | None = None  # the caller's per-task cap in USD

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], agent_type: str | None = None) -> TaskHints:
        """The hints from a task's stored hint mapping (unknown keys and None values ignored)."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in values.items() if k in known and v is not None}
        if "files" in kept:
            kept["files"] = tuple(kept["files"])
        kept["agent_type"] = agent_type or None
        return cls(**kept)

    @property
    def enterprise(self) -> bool:
        return self.enterprise_requirements or self.quality_requirement == "enterprise"

    @property
    def wants_speed(self) -> bool:
        return self.urgent or self.time_sensitive


@dataclass(frozen=True, slots=True)
class TaskAnalysis:
    """What the analyzer concluded about one task."""

    task_type: str
    complexity: int  # 1-10, what the strategies cut at: `score` rounded half up
    confidence: float  # 0-1
    input_tokens: int  # description + caller context (the router adds the role prompt)
    output_tokens: int  # expected answer length before any max_tokens cap
    signals: tuple[str, ...]  # what was read, e.g. "kind:integration", "risk:payment"
    risks: tuple[str, ...]  # risk categories found, e.g. "payment", "concurrency"
    scope: Scope
    subtasks: tuple[str, ...] = ()  # independent pieces, when the description joins several
    score: float = 0.0  # 1.0-10.0, one decimal: the same judgement before rounding (0: `complexity`)

    def __post_init__(self) -> None:
        if not self.score:
            object.__setattr__(self, "score", float(self.complexity))
