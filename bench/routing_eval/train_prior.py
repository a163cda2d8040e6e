"""Train and evaluate the learned complexity prior on public Task Master complexity reports.

Data: bench/data/taskmaster_complexity.jsonl - one task per line (repo, commit, path, task id,
title, complexity), gathered from public repositories' `.taskmaster/reports/
task-complexity-report.json` / `scripts/task-complexity-report.json`; the complexity is the
score Task Master's model gave each task when its owner ran `analyze-complexity`, i.e. labelled
outside this project. Repositories of the owners BiscuitNick, Chious, AlexKucera and AieatAssam
are never used (they are held out for the project's own acceptance check).

Evaluation: group k-fold by repository owner (no owner is ever in both train and test), ridge
strength chosen by an inner group k-fold on the training owners only. Reported on the held-out
predictions, beside baselines computed in the same run on the same tasks:

- `length`: the title's character count;
- `legacy`: the hand-set analyzer this prior replaces (loaded from git at commit facf8dd);
- `learned`: this model.

Figures: Spearman over all held-out tasks pooled, and the mean of per-repository Spearman
(repositories with >= 5 tasks and more than one label value; Task Master scores are relative
within a project, so this is the fairer one).

    python bench/routing_eval/train_prior.py            # evaluate only
    python bench/routing_eval/train_prior.py --write    # evaluate, then fit on all and write
                                                        # server/analysis/prior_weights.json

Pure Python (no numpy): coordinate-descent ridge over the sparse features of
`server.analysis.prior.features`, a few seconds in all.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from server.analysis.analyzer import TRIVIAL_CAP, fine_score, keyword_score, tier_of  # noqa: E402
from server.analysis.prior import (  # noqa: E402
    FEATURE_BUCKETS,
    NO_LENGTH_TERM,
    LengthTerm,
    beyond_trained_length,
    features,
    word_count,
)
from server.analysis.signals import TRIVIAL_MARKERS  # noqa: E402

DATA = REPO / "bench" / "data" / "taskmaster_complexity.jsonl"
WEIGHTS = REPO / "server" / "analysis" / "prior_weights.json"
EXCLUDED_OWNERS = frozenset({"BiscuitNick", "Chious", "AlexKucera", "AieatAssam"})
LAMBDAS = (3.0, 10.0, 30.0, 100.0, 300.0)
# Task Master rates whole project tasks (a feature, a subsystem); route_task gets one unit of
# work. The prior's mean is moved down by this much on the 1-10 scale. It changes no rank-based
# figure; it keeps the strategies' thresholds (speed <= 3, quality >= 7) meaningful.
SCALE_SHIFT = 2.0
# Beyond the longest titles trained on (their 99th percentile in LENGTH_UNIT, `length_from`),
# the title model's deviation fades as 2 ** (-doublings * LENGTH_DAMPING), each doubling of the
# length adds LENGTH_PER_DOUBLING points and the reading grade GRADE_WEIGHT points per grade above
# GRADE_CENTER (`server.analysis.prior.LengthTerm`). Titles cannot teach these. Chosen on RouteLLM's
# recorded GSM8K outcomes only (`apgr.py --tune-length gsm8k`), MMLU held out: the best cell was
# (chars, damping 5, 1 point per doubling, 0.1 per grade), 0.555; the cell with half both weights -
# the same order, so 0.552, within 0.003 - is shipped because it sends far fewer long descriptions
# to the quality tier (a cost rule, no labels: `apgr.py --tiers`, bench/routing_eval/README.md).
LENGTH_UNIT: Literal["words", "chars"] = "chars"
LENGTH_PER_DOUBLING = 0.5
LENGTH_DAMPING = 5.0
GRADE_WEIGHT = 0.05
GRADE_CENTER = 12.0  # US grade 12: wording a high-school senior reads neither adds nor takes points
# Points a long request loses for its kind (`server.analysis.request_kind`): open-ended writing or
# role-play WRITING_POINTS, any other request that is not code or mathematics OTHER_POINTS (exact
# work, this product's usual input, is never moved), phased in like the grade unless
# KIND_AT_ANY_LENGTH. Chosen on FastChat's
# Vicuna-bench judgements only (`apgr.py --tune-kind`), with RouteLLM's GSM8K and MMLU as a no-harm
# check; MT-Bench held out (bench/routing_eval/README.md, "The kind of request").
WRITING_POINTS = 3.0
OTHER_POINTS = 0.0
KIND_AT_ANY_LENGTH = True
# Points an open question with no single right answer loses (`request_kind.is_open_question`),
# unless it is writing. Chosen on Vicuna-bench only (`apgr.py --tune-question`), same no-harm rule;
# MT-Bench measured once after (bench/routing_eval/README.md, "Session 7").
QUESTION_POINTS = 3.0
# Points off per doubling of obligation sentences (should / must / needs to) in a description that
# is not a multiple-choice question: a task spelled out as requirements needs less from the model.
# 0.5 = LENGTH_PER_DOUBLING, not tuned; kept by the rule written before it was measured
# (`coding_breadth.py --term`; bench/routing_eval/README.md, session 7).
OBLIGATION_POINTS = 0.5

Row = dict[str, object]
Sparse = dict[int, float]


def load(path: Path = DATA) -> list[Row]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        owner = str(row["repo"]).split("/")[0]
        if owner in EXCLUDED_OWNERS:
            raise SystemExit(f"{row['repo']}: owner {owner} must never be used")
    return rows


def owner(row: Row) -> str:
    return str(row["repo"]).split("/")[0]


def ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 2:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def fit_ridge(xs: list[Sparse], ys: list[float], lam: float, sweeps: int = 60) -> tuple[float, dict[int, float]]:
    """Ridge regression with an unpenalised intercept, by coordinate descent on sparse rows."""
    bias = statistics.fmean(ys)
    residual = [y - bias for y in ys]
    columns: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for i, row in enumerate(xs):
        for key, value in row.items():
            columns[key].append((i, value))
    norms = {key: sum(v * v for _, v in col) for key, col in columns.items()}
    weights: dict[int, float] = dict.fromkeys(columns, 0.0)
    for _ in range(sweeps):
        change = 0.0
        for key, col in columns.items():
            old = weights[key]
            rho = sum(v * (residual[i] + v * old) for i, v in col)
            new = rho / (norms[key] + lam)
            if new != old:
                delta = new - old
                for i, v in col:
                    residual[i] -= v * delta
                weights[key] = new
                change = max(change, abs(delta))
        # The intercept follows the residual's mean (it is not penalised).
        shift = statistics.fmean(residual)
        bias += shift
        residual = [r - shift for r in residual]
        if change < 1e-5:
            break
    return bias, weights


def predict(model: tuple[float, dict[int, float]], row: Sparse) -> float:
    bias, weights = model
    return bias + sum(v * weights.get(k, 0.0) for k, v in row.items())


def group_folds(groups: Sequence[str], k: int, seed: int) -> list[set[str]]:
    names = sorted(set(groups))
    random.Random(seed).shuffle(names)
    return [set(names[i::k]) for i in range(k)]


def choose_lambda(xs: list[Sparse], ys: list[float], groups: list[str], seed: int, *, folds_k: int = 4,
                  sweeps: int | None = None, lambdas: tuple[float, ...] = LAMBDAS) -> float:
    """The ridge penalty with the best Spearman in an inner group k-fold over `groups`."""
    best, best_score = lambdas[0], -2.0
    folds = group_folds(groups, folds_k, seed + 1)
    fit_kwargs: dict[str, int] = {} if sweeps is None else {"sweeps": sweeps}
    for lam in lambdas:
        preds, truth = [], []
        for held in folds:
            train = [i for i, g in enumerate(groups) if g not in held]
            test = [i for i, g in enumerate(groups) if g in held]
            model = fit_ridge([xs[i] for i in train], [ys[i] for i in train], lam, **fit_kwargs)
            preds += [predict(model, xs[i]) for i in test]
            truth += [ys[i] for i in test]
        score = spearman(preds, truth)
        if score > best_score:
            best, best_score = lam, score
    return best


def per_repo(rows: list[Row], scores: list[float], labels: list[float]) -> tuple[float, int]:
    by_repo: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_repo[str(row["repo"])].append(i)
    values = []
    for idx in by_repo.values():
        if len(idx) >= 5 and len({labels[i] for i in idx}) > 1:
            value = spearman([scores[i] for i in idx], [labels[i] for i in idx])
            if not math.isnan(value):
                values.append(value)
    return (statistics.fmean(values) if values else float("nan")), len(values)


def length_from(rows: list[Row], unit: str = LENGTH_UNIT) -> int:
    """The 99th percentile of the training titles' length (words or characters): the length term starts beyond it."""
    counts = sorted(word_count(str(r["title"])) if unit == "words" else len(str(r["title"])) for r in rows)
    return counts[min(len(counts) - 1, int(0.99 * len(counts)))]


def shipped_length_term(rows: list[Row]) -> LengthTerm:
    """The length term the weights file ships, its threshold read from these titles."""
    return LengthTerm(LENGTH_UNIT, length_from(rows), LENGTH_PER_DOUBLING, LENGTH_DAMPING, GRADE_WEIGHT, GRADE_CENTER,
                      writing_points=WRITING_POINTS, other_points=OTHER_POINTS, question_points=QUESTION_POINTS,
                      obligation_points=OBLIGATION_POINTS, kind_at_any_length=KIND_AT_ANY_LENGTH)


def length_term_json(term: LengthTerm) -> dict[str, object]:
    """The weights file's `length_term` entry (read back by `server.analysis.prior.load_prior`)."""
    return {"unit": term.unit, "from": term.from_count, "per_doubling": term.per_doubling, "damping": term.damping,
            "grade_weight": term.grade_weight, "grade_center": term.grade_center,
            "writing_points": term.writing_points, "other_points": term.other_points,
            "question_points": term.question_points, "obligation_points": term.obligation_points,
            "kind_at_any_length": term.kind_at_any_length}


def row_features(row: Row) -> Sparse:
    """What the analyzer feeds the prior for this title (no hints: Task Master has none)."""
    title = str(row["title"])
    return features(title, None, keyword_score(title))


def evaluate(rows: list[Row], k: int, seed: int) -> dict[str, object]:
    xs = [row_features(r) for r in rows]
    ys = [float(r["complexity"]) for r in rows]  # type: ignore[arg-type]
    targets = ys  # raw labels: a project's level carries over (compare_priors.py, pooled Spearman)
    groups = [owner(r) for r in rows]
    learned = [0.0] * len(rows)
    lambdas = []
    for held in group_folds(groups, k, seed):
        train = [i for i, g in enumerate(groups) if g not in held]
        test = [i for i, g in enumerate(groups) if g in held]
        lam = choose_lambda([xs[i] for i in train], [targets[i] for i in train], [groups[i] for i in train], seed)
        lambdas.append(lam)
        model = fit_ridge([xs[i] for i in train], [targets[i] for i in train], lam)
        for i in test:
            learned[i] = predict(model, xs[i])
    baselines = {
        "length": [float(len(str(r["title"]))) for r in rows],
        "legacy": [float(legacy_analyze(str(r["title"])).complexity) for r in rows],
        "learned": learned,
    }
    report: dict[str, object] = {
        "tasks": len(rows),
        "repos": len({str(r["repo"]) for r in rows}),
        "owners": len(set(groups)),
        "folds": k,
        "seed": seed,
        "lambdas": lambdas,
    }
    for name, scores in baselines.items():
        repo_mean, repo_n = per_repo(rows, scores, ys)
        report[name] = {"spearman_pooled": round(spearman(scores, ys), 3), "spearman_per_repo_mean": round(repo_mean, 3),
                        "repos_scored": repo_n}
    # As `analyze` returns it: calibrated onto the 1-10 scale, trivial titles capped, one decimal
    # (`score`, route_task's complexity_score) and the integer tier the strategies cut at.
    # Calibration is monotone, so these differ from `learned` only by the ties rounding makes.
    mean_p, spread = statistics.fmean(learned), statistics.pstdev(learned) or 1.0
    target, stretch = statistics.fmean(ys) - SCALE_SHIFT, statistics.pstdev(ys) / spread
    term = shipped_length_term(rows)
    # Before and after the handling of descriptions longer than the training titles.
    variants = (("learned_as_returned", NO_LENGTH_TERM), ("learned_as_returned_with_length_handling", term))
    for name, length_term in variants:  # titles: the length handling must change nothing
        scores_1dp, tiers = [], []
        for row, raw in zip(rows, learned, strict=True):
            title = str(row["title"])
            value = target + beyond_trained_length(stretch * (raw - mean_p), title, length_term)
            if TRIVIAL_MARKERS.search(title.lower()):
                value = min(value, TRIVIAL_CAP)
            scores_1dp.append(fine_score(value))
            tiers.append(float(tier_of(fine_score(value))))
        for suffix, returned in (("", scores_1dp), ("_tier", tiers)):
            repo_mean, repo_n = per_repo(rows, returned, ys)
            report[name + suffix] = {"spearman_pooled": round(spearman(returned, ys), 3),
                                     "spearman_per_repo_mean": round(repo_mean, 3), "repos_scored": repo_n}
    report["length_term"] = length_term_json(term)
    report["_cv_predictions"] = learned
    return report


def write_weights(rows: list[Row], cv_predictions: list[float], seed: int) -> None:
    xs = [row_features(r) for r in rows]
    ys = [float(r["complexity"]) for r in rows]  # type: ignore[arg-type]
    targets = ys
    groups = [owner(r) for r in rows]
    lam = choose_lambda(xs, targets, groups, seed)
    bias, weights = fit_ridge(xs, targets, lam)
    fitted = [predict((bias, weights), x) for x in xs]
    # Ridge shrinks predictions towards the mean: stretch them back to the labels' spread, using
    # the held-out predictions' spread (the in-sample one is wider than what new text gets).
    spread = statistics.pstdev(cv_predictions) or 1.0
    calibration = {
        "center": round(statistics.fmean(fitted), 6),
        "scale": round(statistics.pstdev(ys) / spread, 6),
        "target_mean": round(statistics.fmean(ys) - SCALE_SHIFT, 6),
    }
    sources = sorted({(str(r["repo"]), str(r["commit"]), str(r["path"])) for r in rows})
    kept = {str(key): round(value, 5) for key, value in sorted(weights.items()) if abs(value) >= 1e-4}
    data = {
        "format": 1,
        "buckets": FEATURE_BUCKETS,
        "source": f"Task Master complexity reports, {len(rows)} tasks from {len(sources)} public repositories",
        "trained_on": "bench/data/taskmaster_complexity.jsonl",
        "ridge_lambda": lam,
        "bias": round(bias, 6),
        "calibration": calibration,
        "length_term": length_term_json(shipped_length_term(rows)),
        "weights": kept,
    }
    WEIGHTS.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS.relative_to(REPO)}: {len(kept)} weights, lambda {lam}, {calibration}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="fit on all data and write the weights file")
    parser.add_argument("--data", type=Path, default=DATA, help="the task file (default: %(default)s)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = load(args.data)
    report = evaluate(rows, args.folds, args.seed)
    cv = report.pop("_cv_predictions")
    print(json.dumps(report, indent=2))
    print(f"({time.perf_counter() - started:.1f}s)")
    if args.write:
        write_weights(rows, cv, args.seed)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
