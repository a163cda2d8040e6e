"""The learned complexity prior: a small linear model over hashed words and the analyzer's signals.

`features(text, agent_kind)` turns a task description into sparse features: hashed word unigrams
and bigrams, the keyword signals of `server.analysis.signals` (kinds, risks, markers) as
indicators, and the description's length. `ComplexityPrior.predict` is a dot product with the
weights shipped in `prior_weights.json`, mapped onto this project's 1-10 scale.

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

__all__ = ["FEATURE_BUCKETS", "ComplexityPrior", "features", "load_prior", "signal_names"]

FEATURE_BUCKETS = 1 << 14
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
) -> dict[int, float]:
    """Sparse features of one description (bucket -> value); the same for training and inference.

    `keyword_score` is the analyzer's hand-set keyword score (`analyzer.keyword_score`), one
    feature among the others; its weight is learned like theirs. `signals` (`signal_names`) and
    `items` (`signals.enumeration_items`) may be passed when already read, to skip the regexes.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    out: dict[int, float] = {}

    def put(name: str, value: float = 1.0) -> None:
        key = _bucket(name)
        out[key] = out.get(key, 0.0) + value

    for word in words:
        if word not in _STOP and not word.isdigit():
            put("w:" + word)
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


@dataclass(frozen=True)
class ComplexityPrior:
    """Weights of the linear model plus the affine map onto this project's 1-10 scale."""

    bias: float
    weights: dict[int, float]
    scale: float  # multiplies the raw prediction's distance from `center`
    center: float
    target_mean: float  # where `center` lands on this project's scale
    source: str  # what it was trained on (for the rationale and the report)

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
        return self.target_mean + self.scale * (raw - self.center)


@lru_cache(maxsize=1)
def load_prior() -> ComplexityPrior:
    """The shipped prior (read once from the package's `prior_weights.json`)."""
    text = resources.files("server.analysis").joinpath("prior_weights.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("buckets") != FEATURE_BUCKETS:
        raise ValueError(f"prior_weights.json was trained for {data.get('buckets')} buckets, not {FEATURE_BUCKETS}")
    calibration = data["calibration"]
    return ComplexityPrior(
        bias=float(data["bias"]),
        weights={int(k): float(v) for k, v in data["weights"].items()},
        scale=float(calibration["scale"]),
        center=float(calibration["center"]),
        target_mean=float(calibration["target_mean"]),
        source=str(data.get("source", "")),
    )
