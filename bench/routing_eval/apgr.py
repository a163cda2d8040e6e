"""APGR of the router's complexity score on recorded strong/weak outcomes (RouteLLM's evals).

Data: bench/data/routellm_outcomes.jsonl - one prompt per line with whether the strong model
(gpt-4-1106-preview) and the weak model (mixtral-8x7b-instruct-v0.1) answered it correctly, as
recorded by RouteLLM (lm-sys/RouteLLM, routellm/evals/...; repo, path and commit on every line).
The labels were made outside this project; nothing here is fitted to them.

APGR (average performance gap recovered, RouteLLM's definition): order the prompts by a router's
score, send the top share `c` to the strong model and the rest to the weak one; PGR(c) is
(quality(c) - quality(weak only)) / (quality(strong only) - quality(weak only)); APGR is the area
under PGR over c in [0, 1]. Random routing scores 0.5 in expectation. Ties in a score are routed
in expectation over a random tie-break (the curve is linear across a tied group), so a score that
is constant scores exactly 0.5.

Scorers, all computed in the same run on the same prompts:

- `route_task`: `analyze(prompt).score`, the one-decimal score `route_task` returns as
  `complexity_score` (no hints: the eval has none);
- `rt_tier`: `analyze(prompt).complexity`, the integer the strategies cut at (ties: what the
  rounding costs);
- `rt_prev`: the score with the previous handling of long descriptions (session 3: words, one
  point per doubling, damping 1);
- `title_only`: the score with no handling of long descriptions (the title model alone);
- `rt_nokind`: the score without the kind-of-request and obligation points (`LengthTerm.writing_points`,
  `other_points`, `question_points` and `obligation_points` 0: the score shipped before session 6);
  `rt_session6`: without the open-question and obligation points (the score session 6 shipped); `kind`: the kind of request alone
  (`server.analysis.request_kind`: +1 code or mathematics, -1 open-ended writing or role-play, 0
  otherwise; ties routed in expectation);
- `length`: the prompt's length in characters; `grade`: its reading grade alone
  (`server.analysis.prior.reading_grade`); `legacy`: the hand-set analyzer at commit facf8dd
  (loaded from git by bench/routing_eval/legacy);
- `random`: the mean (and 5th-95th percentile) over seeded random orderings - the noise floor;
- `oracle`: the prompts with the largest gain from the strong model first (the ceiling).

Reported per source (GSM8K, MMLU) and per MMLU subject, for the prompts the length term was
chosen with (bench/data/routellm_outcomes.jsonl) and, as "later", for prompts read only after
it was fixed (bench/data/routellm_outcomes_later.jsonl).

MT-Bench (bench/data/routellm_mtbench.jsonl, held out: read after everything in server/ was
fixed) has a continuous quality instead of right/wrong: the GPT-4 judge's 1-10 score of each
model's answer, per question and turn, from RouteLLM's recorded judgements. As in RouteLLM's
`MTBench.evaluate` (routellm/evals/benchmarks.py) a question is routed as a whole by its first
turn only, and quality is the mean judge score over both turns of all questions, so a
question's gain from the strong model is the difference of the two models' mean scores. The
same `apgr` area applies with these gains. Reported on all 80 questions, on RouteLLM's 72
(their `contaminated_prompts.jsonl` removes 8) and per category (10 questions each).
`rt_10step` is RouteLLM's own estimate for `route_task`'s score (`evaluate.py`: 10 quantile
thresholds, quality at each, trapezoid over the strong share), beside the exact area.
For MT-Bench the table's `strong` / `weak` columns are the mean judge scores, not accuracies.

Vicuna-bench (bench/data/vicuna_bench_outcomes.jsonl: FastChat's first evaluation, GPT-4's review
scores of gpt-3.5-turbo and vicuna-13b on 78 one-turn questions, none of them an MT-Bench question)
is scored the same way; `--tune-kind` chooses the kind-of-request points on it (writing and other
points, phased in or at any length), allowing only cells that lose at most NO_HARM on RouteLLM's
GSM8K and MMLU (first set), without reading MT-Bench; `--tune-question` chooses the open-question
points (`server.analysis.request_kind.is_open_question`) the same way.

AlpacaEval (a local copy only, `--alpaca PATH` / PWM_ALPACA_EVAL: its instructions are CC BY-NC 4.0):
the GPT-4 Turbo judge's pairwise preference between gpt-4-1106-preview and Mixtral-8x7B-Instruct,
RouteLLM's pair, on 805 chat instructions; a prompt's gain is 3 - 2p (p = 1 prefers the strong
model's answer). Reported per AlpacaEval source and on the four sources other than `vicuna`
(Vicuna-bench's questions); `--on alpaca` makes `--tune-kind` / `--tune-question` choose there.

`--tune-length SOURCE` grids the length term (unit, damping, points per doubling, points per
reading grade; `server.analysis.prior.LengthTerm`) and picks the best cell on SOURCE's labels
only, printing the best cells on every source beside prompt length: the other sources are held
out. The shipped values live in `train_prior.py` (LENGTH_*, GRADE_*) and the weights file.
`--tiers` prints how the tiers are spread on these prompts and on the Task Master titles with no
length term, the previous one and the shipped one (the cost side).

    python bench/routing_eval/apgr.py                     # table
    python bench/routing_eval/apgr.py --json              # the same figures as JSON
    python bench/routing_eval/apgr.py --tune-length gsm8k # choose the length term on GSM8K only
    python bench/routing_eval/apgr.py --tiers             # tier shares before / after
    python bench/routing_eval/apgr.py --tune-kind         # choose the kind points on Vicuna-bench
    python bench/routing_eval/apgr.py --tune-question     # choose the open-question points on Vicuna-bench
    python bench/routing_eval/apgr.py --tune-question --on alpaca   # the same grid on AlpacaEval's four sources
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import server.analysis.analyzer as analyzer_module  # noqa: E402
from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from bench.routing_eval.train_prior import length_from  # noqa: E402
from bench.routing_eval.train_prior import load as load_titles  # noqa: E402
from server.analysis.analyzer import analyze  # noqa: E402
from server.analysis.prior import NO_LENGTH_TERM, ComplexityPrior, LengthTerm, load_prior, reading_grade  # noqa: E402
from server.analysis.request_kind import is_open_question, request_kind  # noqa: E402

DATA = REPO / "bench" / "data" / "routellm_outcomes.jsonl"
# Prompts read only after the shipped length term was fixed: a check nothing was chosen on.
LATER = REPO / "bench" / "data" / "routellm_outcomes_later.jsonl"
# RouteLLM's MT-Bench judgements (gpt-4-1106-preview vs mixtral-8x7b-instruct-v0.1), 80 questions.
MTBENCH = REPO / "bench" / "data" / "routellm_mtbench.jsonl"
# FastChat's first evaluation (Vicuna-bench, 78 questions): GPT-4's review scores of gpt-3.5-turbo
# vs vicuna-13b. The kind-of-request points are chosen here (--tune-kind); MT-Bench stays held out.
VICUNA = REPO / "bench" / "data" / "vicuna_bench_outcomes.jsonl"
# AlpacaEval 2.0's GPT-4 Turbo judgements of gpt-4-1106-preview vs Mixtral-8x7B-Instruct (RouteLLM's
# pair) on 805 chat instructions; split = AlpacaEval's source dataset. `--on alpaca` chooses points
# on the four sources other than `vicuna` (Vicuna-bench's questions). The instructions are under CC
# BY-NC 4.0, so they are not in this repository: `--alpaca` (or PWM_ALPACA_EVAL) names a local copy,
# either AlpacaEval's own `annotations.json` or the JSON lines this project transcribed from it.
ALPACA = Path(os.environ.get("PWM_ALPACA_EVAL", Path.home() / ".cache" / "pwm-bench" / "alpaca_eval" / "outcomes.jsonl"))
ALPACA_TUNE = frozenset({"helpful_base", "koala", "oasst", "selfinstruct"})
# --tune-kind grid: points a request loses when it is open-ended writing / another non-exact kind,
# phased in beyond the training titles' length like the grade or at any length.
WRITING_GRID = (0.0, 0.5, 1.0, 2.0, 3.0)
OTHER_GRID = (0.0, 0.5, 1.0)
# --tune-question grid: points an open question with no single right answer loses (session 7).
QUESTION_GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
# --tune-kind's no-harm rule: no cell may lose more than this on RouteLLM's GSM8K or MMLU (first set).
NO_HARM = 0.01
# SWE-bench Pro issue texts (bench/routing_eval/coding_outcomes.py's data): --tiers reads their text only.
CODING = REPO / "bench" / "data" / "coding_outcomes.jsonl"
EXCLUDED_OWNERS = frozenset({"BiscuitNick", "Chious", "AlexKucera", "AieatAssam"})
RANDOM_DRAWS = 2000
# The --tune-length grid: unit of length x damping x points per doubling x points per reading grade.
UNIT_GRID: tuple[str, ...] = ("words", "chars")
DAMPING_GRID = (1.0, 2.0, 3.0, 5.0)
TUNE_GRID = (0.5, 1.0, 1.5)
GRADE_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
# The length term shipped before reading grades (session 3): words, 11, 1 point per doubling, damping 1.
PREVIOUS_TERM = LengthTerm("words", 11, 1.0, 1.0)


@dataclass(frozen=True)
class Outcome:
    """One prompt's recorded quality under each model: right/wrong (0/1) or a judge's mean score."""

    prompt: str
    strong: float
    weak: float
    source: str
    split: str
    contaminated: bool = False  # in RouteLLM's decontamination list (MT-Bench only)


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON lines of `path` (none when it is absent), refusing any of the excluded owners."""
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if str(row["repo"]).split("/")[0] in EXCLUDED_OWNERS:
            raise SystemExit(f"{row['repo']}: this owner must never be used")
        yield row


def load(path: Path = DATA, suffix: str = "") -> list[Outcome]:
    """The recorded outcomes in `path`; `suffix` is appended to each source's name (e.g. " later")."""
    return [Outcome(row["prompt"], bool(row["strong_correct"]), bool(row["weak_correct"]), row["source"] + suffix,
                    row["split"]) for row in _rows(path)]


def load_mtbench(path: Path = MTBENCH) -> list[Outcome]:
    """MT-Bench questions, each with the first-turn prompt (what RouteLLM routes on) and the
    two models' judge scores averaged over both turns."""
    return [Outcome(row["prompt"], float(row["strong_score"]), float(row["weak_score"]), row["source"],
                    row["split"], bool(row["contaminated"])) for row in _rows(path)]


def load_vicuna(path: Path = VICUNA) -> list[Outcome]:
    """Vicuna-bench questions (one turn) with the judge's score of each model's answer."""
    return [Outcome(row["prompt"], float(row["strong_score"]), float(row["weak_score"]), row["source"],
                    row["split"]) for row in _rows(path)]


def load_alpaca(path: Path = ALPACA) -> list[Outcome]:
    """AlpacaEval instructions with each model's chance of being the judge's preferred answer
    (2 - p for the strong model, p - 1 for the weak one; p = 1 prefers the strong model's).
    Empty when `path` is absent."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    records = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    out: list[Outcome] = []
    for record in records:
        prompt = record.get("prompt", record.get("instruction"))
        p = record.get("preference")
        if prompt is None or p is None:
            continue
        out.append(Outcome(str(prompt), 2.0 - float(p), float(p) - 1.0, "alpaca_eval",
                           str(record.get("split", record.get("dataset")))))
    return out


def apgr(scores: Sequence[float], strong: Sequence[float], weak: Sequence[float]) -> float:
    """Area under the PGR curve when the highest scores go to the strong model first.

    `strong` / `weak` are each prompt's quality under either model: right/wrong (bools) or a
    judge's score. Tied scores form one group; within it the curve is the expectation over a
    random tie-break, i.e. linear, so the area is exact with the trapezoid rule at group
    boundaries. Returns NaN when the strong model is not better than the weak one on these prompts.
    """
    n = len(scores)
    gap = sum(map(float, strong)) - sum(map(float, weak))
    if n == 0 or gap <= 0:
        return float("nan")
    groups: dict[float, float] = defaultdict(float)  # score -> net gain of sending the group to strong
    sizes: dict[float, int] = defaultdict(int)
    for score, s, w in zip(scores, strong, weak, strict=True):
        groups[score] += float(s) - float(w)
        sizes[score] += 1
    area, gained = 0.0, 0.0
    for score in sorted(groups, reverse=True):
        before = gained / gap
        gained += groups[score]
        after = gained / gap
        area += (before + after) / 2.0 * sizes[score] / n
    return area


def routellm_apgr(scores: Sequence[float], strong: Sequence[float], weak: Sequence[float], steps: int = 10) -> float:
    """APGR the way RouteLLM's evaluate.py measures it: thresholds at the `steps`-quantiles of the
    scores (pd.qcut's edges), the prompts at or above each threshold to the strong model (above
    it for the last one), quality at each point, and the trapezoid area over the strong share,
    relative to weak-only and strong-only quality over the same share range."""
    n = len(scores)
    if n < 2:
        return float("nan")
    ordered = sorted(scores)
    edges = [ordered[0], *statistics.quantiles(scores, n=steps, method="inclusive"), ordered[-1]]
    points = []
    for i, edge in enumerate(edges):
        picked = [score > edge if i == len(edges) - 1 else score >= edge for score in scores]
        quality = sum(float(s) if p else float(w) for p, s, w in zip(picked, strong, weak, strict=True)) / n
        points.append((sum(picked) / n, quality))
    points.sort()
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(points))
    span = points[-1][0] - points[0][0]
    weak_q, strong_q = sum(map(float, weak)) / n, sum(map(float, strong)) / n
    if span <= 0 or strong_q <= weak_q:
        return float("nan")
    return (area - weak_q * span) / ((strong_q - weak_q) * span)


def random_apgr(strong: Sequence[float], weak: Sequence[float], draws: int, seed: int) -> tuple[float, float, float]:
    """Mean, 5th and 95th percentile of APGR over random orderings."""
    rng = random.Random(seed)
    values = []
    for _ in range(draws):
        order = list(range(len(strong)))
        rng.shuffle(order)
        scores = [0.0] * len(strong)
        for rank, i in enumerate(order):
            scores[i] = float(rank)
        values.append(apgr(scores, strong, weak))
    values.sort()
    return statistics.fmean(values), values[int(0.05 * draws)], values[int(0.95 * draws) - 1]


@contextlib.contextmanager
def analyzer_prior(candidate: ComplexityPrior) -> Iterator[None]:
    """Let `analyze` use `candidate` instead of the shipped prior, for the duration."""
    analyzer_module.load_prior = lambda: candidate  # type: ignore[assignment]
    try:
        yield
    finally:
        analyzer_module.load_prior = load_prior


def with_length_term(term: LengthTerm) -> Callable[[str], float]:
    """`route_task`'s score with another handling of descriptions longer than the training titles."""
    def score(prompt: str) -> float:
        with analyzer_prior(dataclasses.replace(load_prior(), length=term)):
            return analyze(prompt).score
    return score


SCORERS: dict[str, Callable[[str], float]] = {
    "route_task": lambda p: analyze(p).score,
    "rt_tier": lambda p: float(analyze(p).complexity),
    "rt_prev": with_length_term(PREVIOUS_TERM),
    "title_only": with_length_term(NO_LENGTH_TERM),
    "rt_nokind": lambda p: with_length_term(dataclasses.replace(load_prior().length, writing_points=0.0,
                                                                other_points=0.0, question_points=0.0,
                                                                obligation_points=0.0))(p),
    "rt_session6": lambda p: with_length_term(dataclasses.replace(load_prior().length, question_points=0.0,
                                                                  obligation_points=0.0))(p),
    "kind": lambda p: float(request_kind(p)),
    "length": lambda p: float(len(p)),
    "grade": reading_grade,
    "legacy": lambda p: float(legacy_analyze(p).complexity),
}


def evaluate(rows: list[Outcome], seed: int) -> list[dict[str, object]]:
    scored = {name: [fn(r.prompt) for r in rows] for name, fn in SCORERS.items()}
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row.source, "all")].append(i)
        if row.source.startswith(("mmlu", "mt_bench", "vicuna", "alpaca")):
            groups[(row.source, row.split)].append(i)
        if row.source == "alpaca_eval" and row.split in ALPACA_TUNE:
            groups[(row.source, "4 sources (no vicuna)")].append(i)
        if row.source.startswith("mt_bench") and not row.contaminated:
            groups[(row.source, "72 decontaminated")].append(i)
    report = []
    for (source, split), idx in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0][1])):
        strong = [rows[i].strong for i in idx]
        weak = [rows[i].weak for i in idx]
        entry: dict[str, object] = {
            "source": source, "split": split, "n": len(idx),
            "strong_acc": round(sum(strong) / len(idx), 3), "weak_acc": round(sum(weak) / len(idx), 3),
        }
        entry.update(scorer_figures(scored, idx, strong, weak, seed))
        entry["rt_10step"] = round(routellm_apgr([scored["route_task"][i] for i in idx], strong, weak), 3)
        report.append(entry)
    return report


def scorer_figures(
    scored: dict[str, list[float]], idx: Sequence[int], strong: Sequence[float], weak: Sequence[float], seed: int,
    draws: int = RANDOM_DRAWS,
) -> dict[str, object]:
    """APGR of each scorer on the rows `idx` (whose outcomes are `strong` / `weak`), beside the
    random floor (mean and 5th-95th percentile over seeded orderings) and the oracle ceiling."""
    figures: dict[str, object] = {
        name: round(apgr([scores[i] for i in idx], strong, weak), 3) for name, scores in scored.items()
    }
    mean, low, high = random_apgr(strong, weak, draws, seed)
    figures["random"] = round(mean, 3)
    figures["random_p5_p95"] = [round(low, 3), round(high, 3)]
    oracle = [float(s) - float(w) for s, w in zip(strong, weak, strict=True)]
    figures["oracle"] = round(apgr(oracle, strong, weak), 3)
    return figures


def tune_length(rows: list[Outcome], source: str) -> dict[str, object]:
    """Choose the length term on `source` only; print the best cells and the chosen one on every source.

    Every cell is `route_task`'s score (one decimal, as returned) with that length term; the
    other sources are held out. Prompt length is scored in the same run as the baseline.
    """
    sources = sorted({r.source for r in rows})
    if source not in sources:
        raise SystemExit(f"--tune-length: unknown source {source!r}; one of {sources}")
    titles = load_titles()
    thresholds = {unit: length_from(titles, unit) for unit in UNIT_GRID}
    shipped = load_prior()
    parts = {name: [r for r in rows if r.source == name] for name in sources}
    results: dict[LengthTerm, dict[str, float]] = {}
    for unit in UNIT_GRID:
        for damping in DAMPING_GRID:
            for per_doubling in TUNE_GRID:
                for grade in GRADE_GRID:
                    term = LengthTerm(unit, thresholds[unit], per_doubling, damping, grade,  # type: ignore[arg-type]
                                      shipped.length.grade_center)
                    with analyzer_prior(dataclasses.replace(shipped, length=term)):
                        results[term] = {
                            name: apgr([analyze(r.prompt).score for r in part], [r.strong for r in part],
                                       [r.weak for r in part])
                            for name, part in parts.items()
                        }
    ranked = sorted(results, key=lambda t: (-round(results[t][source], 6), t.grade_weight, t.per_doubling, t.damping,
                                            t.unit))
    best = ranked[0]
    length = {name: apgr([float(len(r.prompt)) for r in part], [r.strong for r in part], [r.weak for r in part])
              for name, part in parts.items()}
    print(f"route_task APGR by length term, chosen on {source} only (thresholds {thresholds}); best 10 cells:")
    print(f"{'unit':>6} {'damping':>8} {'per_doubling':>12} {'grade_w':>8} " + " ".join(f"{n:>12}" for n in sources))
    for term in ranked[:10]:
        print(f"{term.unit:>6} {term.damping:>8.2f} {term.per_doubling:>12.2f} {term.grade_weight:>8.2f} "
              + " ".join(f"{results[term][n]:>12.3f}" for n in sources) + ("  <- chosen" if term == best else ""))
    print(f"{'length (chars), same run':>38} " + " ".join(f"{length[n]:>12.3f}" for n in sources))
    held = ", ".join(f"{n} {results[best][n]:.3f} (length {length[n]:.3f})" for n in sources if n != source)
    print(f"chosen on {source}: {best} -> {results[best][source]:.3f}; held out: {held}")
    return {"chosen_on": source, "term": dataclasses.asdict(best), "apgr": results[best], "length": length}


def choosing_parts(rows: list[Outcome]) -> dict[str, list[Outcome]]:
    """The set points are chosen on (Vicuna-bench, or AlpacaEval's four sources other than its
    Vicuna questions: whichever `rows` holds), then RouteLLM's first GSM8K and MMLU sets."""
    if any(r.source.startswith("mt_bench") for r in rows):
        raise SystemExit("points are never chosen with MT-Bench in view")
    alpaca = [r for r in rows if r.source == "alpaca_eval" and r.split in ALPACA_TUNE]
    vicuna = [r for r in rows if r.source == "vicuna_bench"]
    if bool(alpaca) == bool(vicuna):
        raise SystemExit("choose on exactly one of Vicuna-bench and AlpacaEval")
    first = ("alpaca_tune", alpaca) if alpaca else ("vicuna_bench", vicuna)
    return {first[0]: first[1], "gsm8k": [r for r in rows if r.source == "gsm8k"],
            "mmlu": [r for r in rows if r.source == "mmlu"]}


def tune_kind(rows: list[Outcome]) -> dict[str, object]:
    """Choose the kind-of-request points on Vicuna-bench only, under a no-harm rule on the first set.

    Every cell is `route_task`'s score with (writing_points, other_points) from the grid; a cell is
    allowed only if it loses at most NO_HARM on RouteLLM's GSM8K and MMLU (first set) against no
    kind points; among allowed cells the best on Vicuna-bench wins (ties: the smaller points).
    MT-Bench is not read here.
    """
    shipped = load_prior()
    parts = choosing_parts(rows)
    chooser = next(iter(parts))
    results: dict[tuple[float, float, bool], dict[str, float]] = {}
    for writing in WRITING_GRID:
        for other in OTHER_GRID:
            for any_length in (False, True):
                if other > writing or (any_length and not writing):
                    continue  # open-ended writing is never put above other requests
                term = dataclasses.replace(shipped.length, writing_points=writing, other_points=other,
                                           kind_at_any_length=any_length)
                with analyzer_prior(dataclasses.replace(shipped, length=term)):
                    results[(writing, other, any_length)] = {
                        name: apgr([analyze(r.prompt).score for r in part], [r.strong for r in part],
                                   [r.weak for r in part])
                        for name, part in parts.items()
                    }
    base = results[(0.0, 0.0, False)]
    allowed = [cell for cell, res in results.items()
               if all(res[name] >= base[name] - NO_HARM for name in ("gsm8k", "mmlu"))]
    best = max(allowed, key=lambda cell: (round(results[cell][chooser], 6), -cell[0], -cell[1], not cell[2]))
    length = {name: apgr([float(len(r.prompt)) for r in part], [r.strong for r in part], [r.weak for r in part])
              for name, part in parts.items()}
    print(f"route_task APGR by kind points (writing, other, at any length), chosen on {chooser} under the "
          "no-harm rule:")
    print(f"{'writing':>8} {'other':>6} {'any len':>7} " + " ".join(f"{n:>13}" for n in parts) + "  allowed")
    for cell in sorted(results):
        print(f"{cell[0]:>8.2f} {cell[1]:>6.2f} {cell[2]!s:>7} " + " ".join(f"{results[cell][n]:>13.3f}" for n in parts)
              + f"  {'yes' if cell in allowed else 'no'}" + ("  <- chosen" if cell == best else ""))
    print(f"{'length (chars), same run':>23} " + " ".join(f"{length[n]:>13.3f}" for n in parts))
    return {"chosen": best, "apgr": results[best], "length": length}


def tune_question(rows: list[Outcome]) -> dict[str, object]:
    """Choose the open-question points on Vicuna-bench only, under the same no-harm rule.

    Every cell is `route_task`'s score with `question_points` from QUESTION_GRID (the shipped
    writing points and `kind_at_any_length` kept); a cell is allowed only if it loses at most NO_HARM
    on RouteLLM's GSM8K and MMLU (first set) and moves no Task Master title's or coding issue's
    score (counted, no labels read); among allowed cells the best on Vicuna-bench wins (ties: the
    smaller points). MT-Bench is not read here.
    """
    shipped = load_prior()
    parts = choosing_parts(rows)
    chooser = next(iter(parts))
    texts = {"task titles": [str(r["title"]) for r in load_titles()]}
    if CODING.exists():
        texts["coding issues"] = [str(json.loads(line)["problem_statement"]).strip()
                                  for line in CODING.read_text(encoding="utf-8").splitlines() if line.strip()]
    flagged = {name: sum(map(is_open_question, part)) for name, part in texts.items()}
    flagged.update({name: sum(is_open_question(r.prompt) for r in part) for name, part in parts.items()})
    results: dict[float, dict[str, float]] = {}
    for points in QUESTION_GRID:
        with analyzer_prior(dataclasses.replace(shipped, length=dataclasses.replace(shipped.length,
                                                                                  question_points=points))):
            results[points] = {
                name: apgr([analyze(r.prompt).score for r in part], [r.strong for r in part], [r.weak for r in part])
                for name, part in parts.items()
            }
    base = results[0.0]
    untouched = flagged["task titles"] == 0 and flagged.get("coding issues", 0) == 0
    allowed = [p for p, res in results.items()
               if all(res[name] >= base[name] - NO_HARM for name in ("gsm8k", "mmlu")) and (untouched or p == 0.0)]
    best = max(allowed, key=lambda p: (round(results[p][chooser], 6), -p))
    length = {name: apgr([float(len(r.prompt)) for r in part], [r.strong for r in part], [r.weak for r in part])
              for name, part in parts.items()}
    print("open questions flagged (no labels read): " + ", ".join(f"{n} {c}" for n, c in flagged.items()))
    print(f"route_task APGR by open-question points, chosen on {chooser} under the no-harm rule:")
    print(f"{'points':>7} " + " ".join(f"{n:>13}" for n in parts) + "  allowed")
    for points in QUESTION_GRID:
        print(f"{points:>7.2f} " + " ".join(f"{results[points][n]:>13.3f}" for n in parts)
              + f"  {'yes' if points in allowed else 'no'}" + ("  <- chosen" if points == best else ""))
    print(f"{'length':>7} " + " ".join(f"{length[n]:>13.3f}" for n in parts))
    return {"chosen": best, "apgr": results[best], "length": length, "flagged": flagged}


def tier_shares(rows: list[Outcome]) -> None:
    """How the tiers the strategies cut at are spread, before and after the shipped length term.

    `balanced` sends complexity <= 3 to speed and > 7 to quality (`cost_optimized`: > 6); `>= 7` is
    the figure the previous session reported. Task Master titles are scored too (the length term
    must leave them alone), and coding issue texts where present (text only, no outcomes).
    """
    texts: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        texts[row.source.split()[0]].append(row.prompt)
    texts["task titles"] = [str(r["title"]) for r in load_titles()]
    if CODING.exists():  # issue texts only: their outcomes are bench/routing_eval/coding_outcomes.py's
        texts["coding issues"] = [str(json.loads(line)["problem_statement"]).strip()
                                  for line in CODING.read_text(encoding="utf-8").splitlines() if line.strip()]
    shipped = load_prior()
    terms = {"none (title model alone)": NO_LENGTH_TERM, "previous (words, 1/doubling, damping 1)": PREVIOUS_TERM,
             "best on GSM8K (chars, 1/doubling, 0.1/grade)": dataclasses.replace(shipped.length, per_doubling=1.0,
                                                                                  grade_weight=0.1),
             "shipped": shipped.length}
    print(f"{'texts':14} {'n':>5} {'length term':46} {'<=3':>6} {'4-7':>6} {'>=7':>6} {'>=8':>6}  median score")
    for name, part in texts.items():
        for label, term in terms.items():
            with analyzer_prior(dataclasses.replace(shipped, length=term)):
                scored = [analyze(text) for text in part]
            tiers = [a.complexity for a in scored]
            def share(ok: Callable[[int], bool], tiers: list[int] = tiers) -> str:
                return f"{100 * sum(ok(t) for t in tiers) / len(tiers):5.0f}%"
            print(f"{name:14} {len(part):>5} {label:46} {share(lambda t: t <= 3)} {share(lambda t: 4 <= t <= 7)} "
                  f"{share(lambda t: t >= 7)} {share(lambda t: t >= 8)}  {statistics.median(a.score for a in scored):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tune-length", metavar="SOURCE", help="choose the length term on this source only")
    parser.add_argument("--tiers", action="store_true", help="the tier shares before and after the length term")
    parser.add_argument("--tune-kind", action="store_true",
                        help="choose the kind-of-request points on Vicuna-bench (MT-Bench not read)")
    parser.add_argument("--tune-question", action="store_true",
                        help="choose the open-question points on Vicuna-bench (MT-Bench not read)")
    parser.add_argument("--on", choices=("vicuna", "alpaca"), default="vicuna",
                        help="--tune-kind / --tune-question: choose on Vicuna-bench or AlpacaEval's four other sources")
    parser.add_argument("--alpaca", default=str(ALPACA), help="a local copy of AlpacaEval's Mixtral annotations")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.tiers:
        tier_shares(load() + load(LATER, " later"))
        return
    if args.tune_length:
        tune_length(load(), args.tune_length)
        return
    alpaca = load_alpaca(Path(args.alpaca))
    chosen_on = alpaca if args.on == "alpaca" else load_vicuna()
    if args.tune_kind:
        tune_kind(load() + chosen_on)
        return
    if args.tune_question:
        tune_question(load() + chosen_on)
        return
    report = evaluate(load() + load(LATER, " later") + load_vicuna() + load_mtbench() + alpaca, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    names = [*SCORERS, "random", "oracle", "rt_10step"]
    print(f"{'source/split':38} {'n':>4} {'strong':>6} {'weak':>6} " + " ".join(f"{n:>10}" for n in names)
          + "  random p5-p95")
    for e in report:
        label = f"{e['source']}/{e['split']}"
        spread = e["random_p5_p95"]
        assert isinstance(spread, list)
        low, high = float(spread[0]), float(spread[1])
        print(f"{label:38} {e['n']:>4} {e['strong_acc']:>6.3f} {e['weak_acc']:>6.3f} "
              + " ".join(f"{e[n]:>10.3f}" for n in names) + f"  {low:.3f}-{high:.3f}")
    print(f"({time.perf_counter() - started:.1f}s, {RANDOM_DRAWS} random orderings, seed {args.seed})")


if __name__ == "__main__":
    main()
