"""Pick the agent variant (speed / balanced / quality) for an analysed task under a strategy.

The seed's rules (000, examples 1-3), with each strategy's thresholds read from its manifest
(`s` = speed_max_complexity, `q` = quality_min_complexity, `d` = default_variant):

    speed_first     complexity > q -> quality; complexity <= s -> speed (urgent or not);
                    in between, design work (architecture / schema) and high-stakes risks
                    (money, data, concurrency, distribution) -> quality; other urgent work
                    (urgent, time_sensitive or a speed-critical target) -> speed; else d.
                    The seed sends "database architecture, complex integrations" to Claude and
                    "CRUD, authentication, UI components" to Cerebras 8B.
    cost_optimized  critical severity or complexity > q -> quality; simple (effort trivial /
                    simple, or complexity <= s) -> speed; else d (balanced).
    quality_first   enterprise work -> quality; complexity > q -> quality; non-enterprise
                    frontend work (complexity <= q, the seed's "< 6") and trivial work
                    (complexity <= s) -> balanced; else d (quality).
    balanced, and any strategy added by an overlay (the seed's 80/15/5 split):
                    complexity > q -> quality; complexity <= s -> speed unless the work is
                    quality-critical, enterprise or critical; else d.

High-stakes risks (money, secrets, security holes, data loss, migrations, concurrency,
distribution: `HIGH_STAKES_RISKS`) keep a floor of `balanced` under every strategy
(`apply_risk_floor`); only an explicit variant in the agent name goes below it. Other risks (a
login flow, roles) carry no floor, and the reason says so rather than "no risk".

An explicit variant in the agent name always wins; the caller's `min_variant` is a floor.
"""

from __future__ import annotations

from server.analysis.types import TaskAnalysis, TaskHints
from server.catalog.schema import VARIANTS, StrategySpec, Variant

__all__ = ["HIGH_STAKES_RISKS", "RISK_FLOOR", "apply_risk_floor", "choose_variant", "raise_to_floor", "variant_rank"]

HIGH_STAKES_RISKS = frozenset(
    {"payment", "credentials", "security", "data_loss", "concurrency", "distributed", "migration"}
)
# The lowest variant a task with a high-stakes risk starts at, whatever the strategy.
RISK_FLOOR: Variant = "balanced"
_DESIGN_KINDS = frozenset({"architecture", "schema"})
_RANK = {variant: index for index, variant in enumerate(VARIANTS)}


def variant_rank(variant: Variant) -> int:
    return _RANK[variant]


def raise_to_floor(variant: Variant, floor: Variant | None) -> Variant:
    if floor is not None and _RANK[floor] > _RANK[variant]:
        return floor
    return variant


def _unfloored(analysis: TaskAnalysis) -> str:
    other = sorted(r for r in analysis.risks if r not in HIGH_STAKES_RISKS and not r.startswith("severity:"))
    return f"; risk {', '.join(other)} carries no variant floor" if other else ""


def apply_risk_floor(variant: Variant, why: str, analysis: TaskAnalysis) -> tuple[Variant, str]:
    """Raise `variant` to `RISK_FLOOR` when the task carries a high-stakes risk."""
    stakes = sorted(HIGH_STAKES_RISKS.intersection(analysis.risks))
    if stakes and _RANK[variant] < _RANK[RISK_FLOOR]:
        return RISK_FLOOR, f"{why}; raised to {RISK_FLOOR}: high-stakes risk ({', '.join(stakes)})"
    return variant, why


def _is_frontend(agent: str, analysis: TaskAnalysis) -> bool:
    return "frontend" in agent or analysis.task_type == "ui"


def choose_variant(
    strategy: StrategySpec, analysis: TaskAnalysis, hints: TaskHints, agent: str
) -> tuple[Variant, str]:
    """The variant the strategy's rules pick, and a short reason."""
    c = analysis.complexity
    s, q, d = strategy.speed_max_complexity, strategy.quality_min_complexity, strategy.default_variant
    name = strategy.name
    if name == "speed_first":
        if c > q:
            return "quality", f"complexity {c} > {q}"
        if c <= s:
            why = "urgent and " if hints.wants_speed else ""
            return "speed", f"{why}complexity {c} <= {s}"
        stakes = sorted(HIGH_STAKES_RISKS.intersection(analysis.risks))
        if stakes:
            return "quality", f"complexity {c} with high-stakes risk ({', '.join(stakes)})"
        if analysis.task_type in _DESIGN_KINDS:
            return "quality", f"{analysis.task_type} design work at complexity {c}"
        if hints.wants_speed or hints.performance_target == "speed_critical":
            return "speed", f"urgent, complexity {c} <= {q}" + _unfloored(analysis)
        return d, f"complexity {c} between {s} and {q}: strategy default"
    if name == "cost_optimized":
        if hints.severity == "critical":
            return "quality", "critical severity"
        if c > q:
            return "quality", f"complexity {c} > {q}"
        if hints.estimated_effort in ("trivial", "simple"):
            return "speed", f"{hints.estimated_effort} effort"
        if c <= s:
            return "speed", f"complexity {c} <= {s}"
        return d, f"complexity {c} between {s} and {q}: strategy default"
    if name == "quality_first":
        if hints.enterprise:
            return "quality", "enterprise requirements"
        if c > q:
            return "quality", f"complexity {c} > {q}"
        if _is_frontend(agent, analysis):
            return "balanced", f"non-enterprise frontend work at complexity {c} <= {q}"
        if c <= s:
            return "balanced", f"trivial work at complexity {c} <= {s}"
        return d, "quality first"
    if c > q:
        return "quality", f"complexity {c} > {q}"
    careful = hints.quality_critical or hints.enterprise or hints.severity == "critical"
    if c <= s and not careful:
        return "speed", f"complexity {c} <= {s}"
    if c <= s:
        return d, f"complexity {c} <= {s} but quality-critical work"
    return d, f"complexity {c} between {s} and {q}: strategy default"
