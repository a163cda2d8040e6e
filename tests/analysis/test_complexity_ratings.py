"""Complexity agrees in rank with how a strong model rates real task lists (tests/data).

tests/data/complexity_ratings.jsonl holds real-world coding tasks (task-master style task lists,
GitHub issues of web apps / CLIs / libraries, the seeds' tasks), each rated 1-10 for engineering
effort and risk before the analyzer was written, split train / holdout. The analyzer's weights
were set on the train split; the holdout is the check.

Two predictors it must beat: description length, and the floor the issue names - LiteLLM's
rule-based complexity router (seven weighted signals), re-implemented below with its published
keyword lists, weights and thresholds (litellm/router_strategy/complexity_router).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.analysis import analyze

RATINGS = Path(__file__).resolve().parents[1] / "data" / "complexity_ratings.jsonl"


def _rows(split: str | None = None) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in RATINGS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if split is None or row["split"] == split]


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):  # ties share their average rank
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation: Pearson's r over the (tie-averaged) ranks."""
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5


# --- LiteLLM's rule-based complexity router (the floor) ------------------------------------
_CODE = (
    "function class def const let var import export return async await try catch exception error "
    "debug api endpoint request response database sql query schema algorithm implement refactor "
    "optimize python javascript typescript java rust golang react vue angular node docker kubernetes "
    "git commit merge branch"
).split() + ["pull request"]
_REASONING = [
    "step by step", "think through", "let's think", "reason through", "analyze this", "break down",
    "explain your reasoning", "show your work", "chain of thought", "think carefully", "consider all",
    "evaluate", "pros and cons", "compare and contrast", "weigh the options", "logical", "deduce",
    "infer", "conclude",
]
_TECHNICAL = [
    "architecture", "distributed", "scalable", "microservice", "machine learning", "neural network",
    "deep learning", "encryption", "authentication", "authorization", "performance", "latency",
    "throughput", "benchmark", "concurrency", "parallel", "threading", "memory", "cpu", "gpu",
    "optimization", "protocol", "tcp", "http", "grpc", "websocket", "container", "orchestration",
]
_SIMPLE = [
    "what is", "what's", "define", "definition of", "who is", "who was", "when did", "when was",
    "where is", "where was", "how many", "how much", "yes or no", "true or false", "simple", "brief",
    "short", "quick", "hello", "hi", "hey", "thanks", "thank you", "goodbye", "bye", "okay",
]
_MULTI_STEP = [re.compile(p, re.IGNORECASE) for p in (r"first.*?then", r"step\s*\d", r"\d+\.\s", r"[a-z]\)\s")]
_WEIGHTS = {"tokens": 0.10, "code": 0.30, "reasoning": 0.25, "technical": 0.25, "simple": 0.05, "multi": 0.03, "questions": 0.02}


def _hits(text: str, keywords: list[str]) -> int:
    return sum(
        bool(re.search(r"\b" + re.escape(k) + r"\b", text)) if " " not in k else k in text for k in keywords
    )


def _level(count: int, low: int, high: int, scores: tuple[float, float, float]) -> float:
    return scores[2] if count >= high else scores[1] if count >= low else scores[0]


def litellm_score(prompt: str) -> float:
    """LiteLLM's weighted score; 2+ reasoning markers force the top tier (scored above any sum)."""
    text = prompt.lower()
    tokens = len(prompt) // 4
    reasoning = _hits(text, _REASONING)
    dims = {
        "tokens": -1.0 if tokens < 15 else 1.0 if tokens > 400 else 0.0,
        "code": _level(_hits(text, _CODE), 1, 2, (0, 0.5, 1.0)),
        "reasoning": _level(reasoning, 1, 2, (0, 0.7, 1.0)),
        "technical": _level(_hits(text, _TECHNICAL), 2, 4, (0, 0.5, 1.0)),
        "simple": _level(_hits(text, _SIMPLE), 1, 2, (0, -1.0, -1.0)),
        "multi": 0.5 if any(p.search(text) for p in _MULTI_STEP) else 0.0,
        "questions": 0.5 if prompt.count("?") > 3 else 0.0,
    }
    score = sum(_WEIGHTS[name] * value for name, value in dims.items())
    return score + (10.0 if reasoning >= 2 else 0.0)


# --- the checks ----------------------------------------------------------------------------


def _holdout_correlations() -> tuple[float, float, float]:
    rows = _rows("holdout")
    ratings = [float(row["rating"]) for row in rows]  # type: ignore[arg-type]
    descriptions = [str(row["description"]) for row in rows]
    ours = spearman(ratings, [float(analyze(d).complexity) for d in descriptions])
    length = spearman(ratings, [float(len(d)) for d in descriptions])
    litellm = spearman(ratings, [litellm_score(d) for d in descriptions])
    return ours, length, litellm


def test_ratings_file_holds_about_eighty_rated_tasks_split_in_halves() -> None:
    rows = _rows()
    assert len(rows) >= 80
    assert all(1 <= int(row["rating"]) <= 10 for row in rows)  # type: ignore[call-overload]
    holdout = len(_rows("holdout"))
    assert abs(holdout - len(rows) / 2) <= 2
    assert len({row["rating"] for row in _rows("holdout")}) >= 8  # the holdout spans the scale


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9487) < 1e-3


def test_complexity_agrees_in_rank_with_strong_model_ratings_on_the_holdout() -> None:
    ours, _, _ = _holdout_correlations()
    assert ours >= 0.7, f"holdout Spearman {ours:.3f}"


def test_complexity_beats_description_length_by_a_clear_margin() -> None:
    ours, length, _ = _holdout_correlations()
    assert ours - length >= 0.15, f"ours {ours:.3f} vs length {length:.3f}"


def test_complexity_beats_the_litellm_rule_based_baseline() -> None:
    ours, _, litellm = _holdout_correlations()
    assert ours - litellm >= 0.15, f"ours {ours:.3f} vs LiteLLM-style {litellm:.3f}"


def test_train_split_agrees_too() -> None:
    rows = _rows("train")
    ratings = [float(row["rating"]) for row in rows]  # type: ignore[arg-type]
    assert spearman(ratings, [float(analyze(str(row["description"])).complexity) for row in rows]) >= 0.7
