"""Input pieces several tools share: the caller's hints about a task, and the routing choices.

`CallerHints` is the one declaration of the hints (`submit_parallel_tasks` tasks and `route_task`
both inherit it); the engine keeps `caller_hints(...)`'s mapping with the task and turns it
into `TaskHints` in one place (`TaskHints.from_mapping`). The hints are documented once, in
`HINTS_DOC`, rather than on every property: that keeps the schemas the client reads small.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from server.analysis.types import TASK_TYPES, BudgetMode, Effort, QualityRequirement, Severity, VariantFloor

__all__ = [
    "AGENT_TYPE_DOC", "CONTEXT_BUDGET_DOC", "CONTEXT_MODE_DOC", "HINTS_DOC", "POLICY_DOC", "STRATEGY_DOC",
    "WORKSPACE_DOC", "CallerHints", "ContextMode", "caller_hints",
]

HINTS_DOC = (
    "Hints win over what is read from the description: estimated_effort clamps the complexity; "
    "context_tokens = context sent along (else ~1500 per file in files; with a workspace, files "
    "(path[:start-end]) are shown first); complexity (1-10) and task_type "
    "(crud, ui, api, bug_fix, security, tests, docs, refactor, ...) override the analysis; budget_mode "
    "local_only / free_only limits the tiers; min_variant is a floor; max_cost is a USD cap per task."
)
AGENT_TYPE_DOC = "e.g. aria_coder_backend; _speed/_balanced/_quality pins the variant, _N is a worker label."
STRATEGY_DOC = "speed_first, cost_optimized, quality_first or balanced (= intelligent_auto)."
POLICY_DOC = "normal, deep_research, code or ops (per-task cost and token caps)."
WORKSPACE_DOC = "Git repository (in the allowed roots) whose relevant code the model is shown."
CONTEXT_BUDGET_DOC = "Max tokens of that code (default: from the model's window and the policy)."
CONTEXT_MODE_DOC = "summary: structure, not code (default: design tasks)."
ContextMode = Literal["code", "summary"]


class CallerHints(BaseModel):
    """What a caller may say about a task beyond its description (see `HINTS_DOC`)."""

    urgent: bool = False
    time_sensitive: bool = False
    severity: Severity | None = None
    estimated_effort: Effort | None = None
    quality_requirement: QualityRequirement | None = None
    cost_sensitive: bool = False
    enterprise_requirements: bool = False
    quality_critical: bool = False
    production_code: bool = False
    performance_target: str | None = Field(None, max_length=50)
    context_tokens: int | None = Field(None, ge=0, le=10_000_000)
    files: list[str] = Field(default_factory=list, max_length=10_000)
    complexity: int | None = Field(None, ge=1, le=10)
    task_type: str | None = Field(None, max_length=50)  # one of TASK_TYPES, checked below
    budget_mode: BudgetMode = "normal"
    min_variant: VariantFloor | None = None
    max_cost: float | None = Field(None, gt=0, le=1000)


    @field_validator("task_type")
    @classmethod
    def _known_task_type(cls, value: str | None) -> str | None:
        # Checked here rather than as an enum in the schema: the list is long and rarely needed.
        if value is not None and value not in TASK_TYPES:
            raise ValueError(f"unknown task type {value!r}; accepted: {', '.join(TASK_TYPES)}")
        return value


def caller_hints(model: CallerHints) -> dict[str, Any]:
    """The hints the caller set, as the plain mapping the engine stores with a task."""
    return model.model_dump(include=set(CallerHints.model_fields), exclude_defaults=True)
