"""The learned complexity prior: a small linear model over hashed words and the analyzer's signals.

`features(text, agent_kind)` turns a task description into sparse features: hashed word unigrams,
bigrams and 5-letter word prefixes, the keyword signals of `server.analysis.signals` (kinds, risks,
markers) as indicators, and the description's length. `ComplexityPrior.predict` is a dot product with the
weights shipped in `prior_weights.json`, mapped onto this project's 1-10 scale. Descriptions longer
than the titles it was trained on are handled by `beyond_trained_length` (`LengthTerm`): the title
model's deviation from its mean fades out, and the length (each doubling adds points) and the
reading grade of the wording (`reading_grade`, Coleman-Liau) order them instead - on recorded
strong/weak outcomes that is what predicts where a strong model helps. A request for open-ended
writing or role-play, or an open question with no single right answer, at any length, scores
lower (`server.analysis.request_kind`), and so does a long description in proportion to how much of
it is stated as obligations ("should", "must"): on recorded coding-agent outcomes a spelled-out
issue is one a cheaper model solves more often. See bench/routing_eval/README.md for the figures
and how the numbers were chosen.

The weights are trained by `bench/routing_eval/train_prior.py` on public Task Master complexity
reports (titles with a model-judged complexityScore, see bench/data/taskmaster_complexity.jsonl
and its sources); the file holds numbers only, never others' text. Training and inference share
this module's `features`, so they cannot drift apart. Inference is pure Python, a few dozen
microseconds per description.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from server.analysis import signals as sig
from server.analysis.request_kind import (
    is_multiple_choice,
    is_open_ended_writing,
    is_open_question,
    request_kind,
)

__all__ = [
    "FEATURE_BUCKETS",
    "GRADE_MAX_POINTS",
    "NO_LENGTH_TERM",
    "ComplexityPrior",
    "LengthTerm",
    "beyond_trained_length",
    "features",
    "length_units",
    "load_prior",
    "obligation_sentences",
    "reading_grade",
    "signal_names",
    "word_count",
]

FEATURE_BUCKETS = 1 << 14
PREFIX_LETTERS = 5  # word-prefix features (chosen held out, bench/routing_eval/compare_priors.py)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_CLAUSE = re.compile(r"[^.!?\n]+")
_OBLIGATION = re.compile(r"\b(?:should|must|needs? to|has to|have to|is required to)\b", re.IGNORECASE)
# Words so common in task titles that they say nothing on their own (bigrams keep them).
_STOP = frozenset({"a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "with", "by", "from"})


@lru_cache(maxsize=1 << 16)
def _bucket(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) % FEATURE_BUCKETS


def signal_names(text: str) -> tuple[str, ...]:
    """The keyword signals found in `text`, as prior feature names ("k:ui", "r:payment", ...)."""
    lowered = text.lower()  # the signal patterns match lowercased text
    names = [f"k:{s.name}" for s in sig.KINDS if s.pattern.search(lowered)]
    names += [f"r:{s.name}" for s in sig.RISKS if s.pattern.search(lowered)]
    names += [f"m:{s.name}" for s in (*sig.HARD_MARKERS, *sig.EASY_MARKERS) if s.pattern.search(lowered)]
    if sig.TRIVIAL_MARKERS.search(lowered):
        names.append("m:trivial")
    return tuple(names)


def features(
    text: str,
    agent_kind: str | None = None,
    keyword_score: float | None = None,
    signals: tuple[str, ...] | None = None,
    items: int | None = None,
    *,
    prefixes: bool = True,
) -> dict[int, float]:
    """Sparse features of one description (bucket -> value); the same for training and inference.

    `keyword_score` is the analyzer's hand-set keyword score (`analyzer.keyword_score`), one
    feature among the others; its weight is learned like theirs. `signals` (`signal_names`) and
    `items` (`signals.enumeration_items`) may be passed when already read, to skip the regexes.
    `prefixes=False` leaves out the word-prefix features (only for comparing models).
    """
    words = [w.lower() for w in _WORD.findall(text)]
    out: dict[int, float] = {}

    def put(name: str, value: float = 1.0) -> None:
        key = _bucket(name)
        out[key] = out.get(key, 0.0) + value

    for word in words:
        if word not in _STOP and not word.isdigit():
            put("w:" + word)
        if prefixes and len(word) > PREFIX_LETTERS:
            # A crude stemmer: "authentication" and "authenticate" share "authe".
            put("p:" + word[:PREFIX_LETTERS])
    for left, right in zip(words, words[1:], strict=False):
        put(f"b:{left}_{right}")
    for name in signal_names(text) if signals is None else signals:
        put(name)
    count = sig.enumeration_items(text) if items is None else items
    if count:
        put("n:items", min(count, 6) / 3.0)
    if agent_kind:
        put("a:" + agent_kind)
    if keyword_score is not None:
        put("s:keyword_score", keyword_score / 3.0)
    put("len:words", math.log1p(len(words)))
    put("len:commas", min(text.count(",") + text.count("/") + text.count("&"), 6) / 3.0)
    return out


def word_count(text: str) -> int:
    """Words as the prior's features count them."""
    return len(_WORD.findall(text))


def reading_grade(text: str) -> float:
    """The Coleman-Liau index of `text`: the US school grade its wording reads at.

    0.0588 * letters per 100 words - 0.296 * sentences per 100 words - 15.8 (Coleman & Liau,
    1975; published coefficients, nothing fitted here). Longer words and longer sentences read
    harder; code and formulas (long identifiers, no full stops) read high.
    """
    words = len(_WORD.findall(text))
    if not words:
        return 0.0
    letters = sum(map(str.isalpha, text))
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    return 5.88 * letters / words - 29.6 * sentences / words - 15.8


def obligation_sentences(text: str) -> int:
    """Sentences (or lines) of `text` that state an obligation: should / must / needs to / has to."""
    if not _OBLIGATION.search(text):
        return 0
    return sum(1 for clause in _CLAUSE.findall(text) if _OBLIGATION.search(clause))


@dataclass(frozen=True)
class LengthTerm:
    """How a description longer than the training titles is scored; no effect up to `from_count`.

    Beyond the longest titles trained on (`from_count` words or characters, their 99th
    percentile), the title model's deviation fades by 2 ** (-doublings * damping), each doubling
    of the length adds `per_doubling` points, and the wording's reading grade adds
    `grade_weight` points per grade above `grade_center` (at most GRADE_MAX_POINTS either way),
    phased in over the first doubling so that nothing jumps at the threshold. The kind of request
    (`request_kind`) moves it too, phased in the same way unless `kind_at_any_length`: exact work
    (code, mathematics - this product's usual input) stays, open-ended writing or role-play loses
    `writing_points`, an open question with no single right answer (`is_open_question`: "How can
    I manage stress?") `question_points` unless it is writing, any other request `other_points`.
    A description that spells its work out as obligations (`obligation_sentences`: should / must /
    needs to) loses `obligation_points` per doubling of them, phased in like the grade, unless it is
    a multiple-choice question (there "must" is a condition of the problem).
    The length and grade numbers
    are chosen on recorded strong/weak outcomes of one source and checked on another
    (bench/routing_eval/apgr.py --tune-length); the kind points on another source of chat prompts
    (--tune-kind, --tune-question; bench/routing_eval/README.md).
    """

    unit: Literal["words", "chars"] = "words"
    from_count: int = 0  # 0: no length handling at all
    per_doubling: float = 0.0
    damping: float = 0.5
    grade_weight: float = 0.0
    grade_center: float = 12.0
    writing_points: float = 0.0
    other_points: float = 0.0
    question_points: float = 0.0
    obligation_points: float = 0.0  # points off per doubling of obligation sentences (phased in like the grade)
    kind_at_any_length: bool = False  # the kind points apply to short requests too (not phased in)


NO_LENGTH_TERM = LengthTerm()
GRADE_MAX_POINTS = 2.0  # a formula or a stack trace reads at grade 30+: keep it one signal among others


def length_units(text: str, term: LengthTerm) -> float:
    """Doublings of the description's length beyond `term.from_count` (0 up to it)."""
    if term.from_count <= 0:
        return 0.0
    size = word_count(text) if term.unit == "words" else len(text)
    return math.log2(size / term.from_count) if size > term.from_count else 0.0


def beyond_trained_length(deviation: float, text: str, term: LengthTerm, software: bool = False) -> float:
    """The model's deviation from its mean, adjusted for a description longer than its training titles.

    The prior sums one weight per word. Trained and calibrated on titles, its deviation on a
    paragraph is noise the calibration never saw (on recorded strong/weak outcomes the title model
    alone orders long prompts no better than chance), so it fades with the length; what orders
    long prompts instead is their length and how hard their wording reads (`LengthTerm`). Exactly
    no effect up to `term.from_count`, so the fit on the training titles is untouched - except the
    kind points when `term.kind_at_any_length` (a request for a poem or a role-play is not the kind
    of work the titles rate; none of the 2,050 training titles is one). Training's evaluation and
    inference both call this. `software`: the keyword signals or the agent say the text is about
    software (a kind of coding work, a risk, a coding agent); then a question is not an open one
    ("How should we design the SSO architecture?" is design work, not small talk).
    """
    units = length_units(text, term)
    kind_points = 0.0
    if term.other_points:
        kind = request_kind(text)
        kind_points = term.writing_points if kind < 0 else term.other_points if kind == 0 else 0.0
    elif term.writing_points and is_open_ended_writing(text):  # the cheap test first: most text is not writing
        kind_points = term.writing_points
    if term.question_points and not kind_points and not software and is_open_question(text):
        kind_points = term.question_points
    if kind_points and not term.kind_at_any_length:
        kind_points *= min(units, 1.0)
    if units <= 0:
        return deviation - kind_points
    out = deviation * 2.0 ** (-units * term.damping) + term.per_doubling * units - kind_points
    if term.grade_weight:
        grade = term.grade_weight * (reading_grade(text) - term.grade_center)
        out += min(units, 1.0) * max(-GRADE_MAX_POINTS, min(GRADE_MAX_POINTS, grade))
    if term.obligation_points and not is_multiple_choice(text):
        # An exam question's "must" is a condition of the problem, not a requirement of work.
        out -= min(units, 1.0) * term.obligation_points * math.log2(1 + obligation_sentences(text))
    return out


@dataclass(frozen=True)
class ComplexityPrior:
    """Weights of the linear model plus the affine map onto this project's 1-10 scale."""

    bias: float
    weights: dict[int, float]
    scale: float  # multiplies the raw prediction's distance from `center`
    center: float
    target_mean: float  # where `center` lands on this project's scale
    source: str  # what it was trained on (for the rationale and the report)
    length: LengthTerm = NO_LENGTH_TERM  # descriptions longer than the training titles

    def raw(self, feats: dict[int, float]) -> float:
        """The model's prediction on the Task Master scale."""
        weights = self.weights
        return self.bias + sum(value * weights.get(key, 0.0) for key, value in feats.items())

    def predict(
        self,
        text: str,
        agent_kind: str | None = None,
        keyword_score: float | None = None,
        signals: tuple[str, ...] | None = None,
        items: int | None = None,
    ) -> float:
        """Complexity on this project's scale (not rounded, not clamped)."""
        raw = self.raw(features(text, agent_kind, keyword_score, signals, items))
        deviation = self.scale * (raw - self.center)
        software = agent_kind is not None or any(name.startswith(("k:", "r:")) for name in signals or ())
        return self.target_mean + beyond_trained_length(deviation, text, self.length, software)


@lru_cache(maxsize=1)
def load_prior() -> ComplexityPrior:
    """The shipped prior (read once from the package's `prior_weights.json`)."""
    text = resources.files("server.analysis").joinpath("prior_weights.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("buckets") != FEATURE_BUCKETS:
        raise ValueError(f"prior_weights.json was trained for {data.get('buckets')} buckets, not {FEATURE_BUCKETS}")
    calibration = data["calibration"]
    length = data.get("length_term", {})
    return ComplexityPrior(
        bias=float(data["bias"]),
        weights={int(k): float(v) for k, v in data["weights"].items()},
        scale=float(calibration["scale"]),
        center=float(calibration["center"]),
        target_mean=float(calibration["target_mean"]),
        source=str(data.get("source", "")),
        length=LengthTerm(
            unit="chars" if length.get("unit") == "chars" else "words",
            from_count=int(length.get("from", length.get("from_words", 0))),
            per_doubling=float(length.get("per_doubling", 0.0)),
            damping=float(length.get("damping", 0.5)),
            grade_weight=float(length.get("grade_weight", 0.0)),
            grade_center=float(length.get("grade_center", 12.0)),
            writing_points=float(length.get("writing_points", 0.0)),
            other_points=float(length.get("other_points", 0.0)),
            question_points=float(length.get("question_points", 0.0)),
            obligation_points=float(length.get("obligation_points", 0.0)),
            kind_at_any_length=bool(length.get("kind_at_any_length", False)),
        ),
    )
