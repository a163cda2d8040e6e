"""The learned complexity prior: a small linear model over hashed words and the analyzer's signals.

`features(text, agent_kind)` turns a task description into sparse features: hashed word unigrams,
bigrams and 5-letter word prefixes, the keyword signals of `server.analysis.signals` (kinds, risks,
markers) as indicators, and the description's length. `ComplexityPrior.predict` is a dot product with the
weights shipped in `prior_weights.json`, mapped onto this project's 1-10 scale. Descriptions longer
than the titles it was trained on are handled by `beyond_trained_length`: the model's deviation
from the mean fades with the words it never saw, and each doubling of the length adds a point
(longer prompts gain more from a strong model in recorded outcomes; see
bench/routing_eval/README.md for the figures and how the two numbers were set).

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

from server.analysis import signals as sig

__all__ = [
    "FEATURE_BUCKETS",
    "ComplexityPrior",
    "beyond_trained_length",
    "features",
    "length_units",
    "load_prior",
    "signal_names",
    "word_count",
]

FEATURE_BUCKETS = 1 << 14
PREFIX_LETTERS = 5  # word-prefix features (chosen held out, bench/routing_eval/compare_priors.py)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words so common in task titles that they say nothing on their own (bigrams keep them).
_STOP = frozenset({"a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "with", "by", "from"})


def _bucket(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) % FEATURE_BUCKETS


def signal_names(text: str) -> tuple[str, ...]:
    """The keyword signals found in `text`, as prior feature names ("k:ui", "r:payment", ...)."""
    names = [f"k:{s.name}" for s in sig.KINDS if s.pattern.search(text)]
    names += [f"r:{s.name}" for s in sig.RISKS if s.pattern.search(text)]
    names += [f"m:{s.name}" for s in (*sig.HARD_MARKERS, *sig.EASY_MARKERS) if s.pattern.search(text)]
    if sig.TRIVIAL_MARKERS.search(text):
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


def length_units(text: str, from_words: int) -> float:
    """Doublings of the description's word count beyond `from_words` (0 up to `from_words` words)."""
    if from_words <= 0:
        return 0.0
    words = word_count(text)
    return math.log2(words / from_words) if words > from_words else 0.0


def beyond_trained_length(
    deviation: float, text: str, from_words: int, per_doubling: float, damping: float = 0.5
) -> float:
    """The model's deviation from its mean, adjusted for a description longer than its training titles.

    The prior sums one weight per word. Trained and calibrated on titles of at most `from_words`
    words, its deviation on a paragraph spreads wider by about sqrt(words / from_words) - noise
    the calibration never saw - so it is scaled back by (words / from_words) ** -damping (0.5:
    back to the trained spread; more: the title model counts less the longer the text).
    `per_doubling` adds points per doubling of the length (titles cannot teach it; chosen on
    recorded strong/weak outcomes, see bench/routing_eval/README.md). Both are exactly 0 effect
    up to `from_words` words, so the fit on the training titles is untouched. Training's
    evaluation and inference both call this.
    """
    units = length_units(text, from_words)
    if units <= 0:
        return deviation
    return deviation * 2.0 ** (-units * damping) + per_doubling * units


@dataclass(frozen=True)
class ComplexityPrior:
    """Weights of the linear model plus the affine map onto this project's 1-10 scale."""

    bias: float
    weights: dict[int, float]
    scale: float  # multiplies the raw prediction's distance from `center`
    center: float
    target_mean: float  # where `center` lands on this project's scale
    source: str  # what it was trained on (for the rationale and the report)
    length_from_words: int = 0  # longest trained title (words); 0: no length handling
    length_per_doubling: float = 0.0  # points per doubling of the word count beyond it
    length_damping: float = 0.5  # how fast the title model's deviation fades beyond it

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
        return self.target_mean + beyond_trained_length(
            deviation, text, self.length_from_words, self.length_per_doubling, self.length_damping
        )


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
        length_from_words=int(length.get("from_words", 0)),
        length_per_doubling=float(length.get("per_doubling", 0.0)),
        length_damping=float(length.get("damping", 0.5)),
    )
