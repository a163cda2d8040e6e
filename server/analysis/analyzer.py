"""`analyze(description, hints)`: read a coding task's signals and score its complexity 1-10.

The score comes from a learned prior (`server.analysis.prior`): a small linear model trained on
public, externally labelled task complexity (Task Master reports, see bench/routing_eval/), over
hashed words of the description and the keyword signals read here. One of its features is the
hand-set keyword score below (kept as a signal; its weight in the final score is learned):

    base(kind of work) + other kinds + risk categories + hard / easy markers + breadth + scope

The score is kept to one decimal (`TaskAnalysis.score`, what `route_task` returns as
`complexity_score`: rounding to whole points would tie most prompts and lose their order); the
strategies cut at `TaskAnalysis.complexity`, the score rounded half up. Two rules stay on top of the
model: a trivial marker ("typo", "bump", "tooltip") with no risk caps the score at 2, and explicit
hints win: `complexity` replaces the score, `estimated_effort`
clamps it into its band, `task_type` replaces the kind. Named files widen the scope (and so the
keyword score). The function is pure and takes well under a millisecond.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from server.analysis import signals as sig
from server.analysis.prior import load_prior
from server.analysis.subtasks import split_subtasks
from server.analysis.tokens import count_tokens
from server.analysis.types import EFFORT_BANDS, TASK_TYPES, Scope, TaskAnalysis, TaskHints
from server.errors import InputError

__all__ = ["TRIVIAL_CAP", "analyze", "estimate_output_tokens", "fine_score", "keyword_score", "tier_of"]

# Tokens assumed per attached file when the caller gives files but no context size.
TOKENS_PER_FILE = 1500
# A trivial marker ("typo", "bump", "tooltip") with no risk caps the learned score here.
TRIVIAL_CAP = 2


def fine_score(value: float) -> float:
    """The score as returned: clamped to 1-10, one decimal (keeps the order that rounding to tiers would tie)."""
    return round(max(1.0, min(10.0, float(value))), 1)


def tier_of(score: float) -> int:
    """The integer complexity the strategies cut at: `score` rounded half up, so 6.5 is 7 like 6.6."""
    return int(math.floor(score + 0.5))


def _kinds(text: str) -> dict[str, float]:
    found: dict[str, float] = {}  # in sig.KINDS order, which `prior.signal_names` follows too
    for signal in sig.KINDS:
        hits = len(signal.pattern.findall(text))
        if hits:
            found[signal.name] = signal.weight + 0.25 * (hits - 1)
    return found


def _primary_kind(found: dict[str, float], agent_kind: str | None) -> str:
    if not found:
        return agent_kind or "general"
    best = max(found.values())
    for name in sig.KIND_PRIORITY:
        if found.get(name) == best:
            return name
    return "general"  # pragma: no cover - every kind is in KIND_PRIORITY


def _agent_kind(agent_type: str | None) -> str | None:
    if not agent_type:
        return None
    lowered = agent_type.lower()
    for needle, kind in sig.AGENT_KIND_HINTS:
        if needle in lowered:
            return kind
    return None


def _scope(text: str, kind: str, files: int) -> str:
    if files > 20:
        return "system"
    if files > 1:
        return "multi_file"
    for name, pattern in sig.SCOPE_PATTERNS:
        if pattern.search(text):
            return name
    return sig.SCOPE_DEFAULT.get(kind, "file")


def estimate_output_tokens(task_type: str, complexity: int, subtasks: int = 0) -> int:
    """Expected answer length: the kind's typical length scaled by complexity and pieces."""
    base = sig.OUTPUT_TOKENS.get(task_type, sig.OUTPUT_TOKENS["general"])
    scale = 0.4 + 0.12 * complexity  # complexity 5 -> 1.0x, 1 -> 0.52x, 10 -> 1.6x
    return int(base * scale * (1 + 0.25 * max(0, subtasks - 1)))


@dataclass(frozen=True, slots=True)
class _Reading:
    """What the keyword signals say about one description."""

    kind: str
    agent_kind: str | None
    found: dict[str, float]
    signals: tuple[str, ...]
    risks: tuple[str, ...]
    score: float  # the hand-set keyword score (a feature of the learned prior)
    trivial: bool
    prior_signals: tuple[str, ...]  # the signals as the prior's feature names (`prior.signal_names`)
    items: int
    scope: str
    subtasks: tuple[str, ...]


def _read(text: str, hints: TaskHints) -> _Reading:
    signals: list[str] = []
    lowered = text.lower()  # the signal patterns match lowercased text
    found = _kinds(lowered)
    matched = list(found)
    agent_kind = _agent_kind(hints.agent_type)
    kind = hints.task_type or _primary_kind(found, agent_kind)
    signals.append(f"kind:{kind}" + (" (explicit)" if hints.task_type else ""))
    if agent_kind and agent_kind != kind:
        found.setdefault(agent_kind, 0.0)

    score = sig.BASE_COMPLEXITY.get(kind, sig.BASE_COMPLEXITY["general"])
    secondary = 0.0
    for other in found:
        if other != kind:
            secondary += sig.SECONDARY_KIND_WEIGHT.get(other, 0.0)
            signals.append(f"also:{other}")
    # Writing tests or docs about risky code is less risky than writing the code itself.
    damp = 0.5 if kind in ("docs", "tests") else 1.0
    score += damp * min(secondary, 2.0)

    risks: list[str] = []
    risk_points = 0.0
    for risk in sig.RISKS:
        if risk.pattern.search(lowered):
            risks.append(risk.name)
            risk_points += risk.weight
            signals.append(f"risk:{risk.name}")
    # The second and later risk categories add less: risks overlap (payment implies security).
    if risks:
        top = max(r.weight for r in sig.RISKS if r.name in risks)
        score += damp * (top + 0.5 * (risk_points - top))

    markers: list[str] = []
    for marker in (*sig.HARD_MARKERS, *sig.EASY_MARKERS):
        if marker.pattern.search(lowered):
            score += marker.weight
            markers.append(marker.name)
            signals.append(f"{'hard' if marker.weight > 0 else 'easy'}:{marker.name}")

    items = sig.enumeration_items(text)
    if items:
        score += min(0.4 * (items - 1), 1.2)
        signals.append(f"breadth:{items} items")
    subtasks = split_subtasks(text)
    if subtasks:
        score += min(0.75 * (len(subtasks) - 1), 2.0)
        signals.append(f"subtasks:{len(subtasks)}")

    scope = _scope(lowered, kind, len(hints.files))
    score += sig.SCOPE_WEIGHT[scope]
    signals.append(f"scope:{scope}")

    trivial_word = bool(sig.TRIVIAL_MARKERS.search(lowered))
    trivial = trivial_word and not risks
    if trivial:
        score = min(score, 1.5)
        signals.append("easy:trivial")
    prior_signals = tuple(
        [f"k:{name}" for name in matched]
        + [f"r:{name}" for name in risks]
        + [f"m:{name}" for name in markers]
        + (["m:trivial"] if trivial_word else [])
    )
    return _Reading(
        kind, agent_kind, found, tuple(signals), tuple(risks), score, trivial, prior_signals, items, scope, subtasks
    )


def keyword_score(description: str, hints: TaskHints | None = None) -> float:
    """The hand-set keyword score of a description (one feature of the learned prior)."""
    return _read(description.strip(), hints or TaskHints()).score


def analyze(description: str, hints: TaskHints | None = None) -> TaskAnalysis:
    """Analyse one task description with the caller's hints.

    Raises:
        InputError: the description is empty, or an explicit `complexity` / `task_type` hint is
            out of range.
    """
    hints = hints or TaskHints()
    text = description.strip()
    if not text:
        raise InputError("task_description", "must not be empty", "a sentence describing the coding task")
    if hints.complexity is not None and not 1 <= hints.complexity <= 10:
        raise InputError("complexity", f"must be within 1-10, got {hints.complexity}", "integers 1-10")
    if hints.task_type is not None and hints.task_type not in TASK_TYPES:
        raise InputError("task_type", f"unknown task type {hints.task_type!r}", ", ".join(TASK_TYPES))

    reading = _read(text, hints)
    kind, risks_found = reading.kind, reading.risks
    signals = list(reading.signals)
    learned = load_prior().predict(text, reading.agent_kind, reading.score, reading.prior_signals, reading.items)
    if reading.trivial:
        learned = min(learned, TRIVIAL_CAP)
    score = fine_score(learned)
    complexity = tier_of(score)
    signals.append(f"prior:{learned:.1f}")
    confidence = min(0.9, 0.45 + 0.08 * len(signals)) if reading.found else 0.35
    risks = list(risks_found)
    if hints.severity in ("high", "critical"):
        risks.append(f"severity:{hints.severity}")
    if hints.complexity is not None:
        complexity = hints.complexity
        score = float(complexity)
        confidence = 1.0
        signals.append("hint:complexity")
    elif hints.estimated_effort is not None:
        low, high = EFFORT_BANDS[hints.estimated_effort]
        score = max(float(low), min(float(high), score))
        complexity = tier_of(score)
        confidence = min(0.95, confidence + 0.15)
        signals.append(f"hint:estimated_effort={hints.estimated_effort}")

    context = hints.context_tokens if hints.context_tokens is not None else TOKENS_PER_FILE * len(hints.files)
    return TaskAnalysis(
        task_type=kind,
        complexity=complexity,
        score=score,
        confidence=round(confidence, 2),
        input_tokens=count_tokens(text) + max(0, context),
        output_tokens=estimate_output_tokens(kind, complexity, len(reading.subtasks)),
        signals=tuple(signals),
        risks=tuple(risks),
        scope=cast(Scope, reading.scope),
        subtasks=reading.subtasks,
    )
