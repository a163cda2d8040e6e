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

- `route_task`: `server.analysis.analyzer.analyze(prompt).complexity`, the 1-10 score the
  planner routes by (no hints: the eval has none);
- `rt_before`: the same with the prior's handling of descriptions longer than its training
  titles switched off (`beyond_trained_length`): the title model alone;
- `prior_raw`: the learned prior's unrounded prediction (the `prior:` signal), to show what the
  rounding to 1-10 costs;
- `length`: the prompt's length in characters;
- `legacy`: the hand-set analyzer at commit facf8dd (loaded from git by bench/routing_eval/legacy);
- `random`: the mean (and 5th-95th percentile) over seeded random orderings - the noise floor;
- `oracle`: prompts the weak model fails but the strong one solves first (the ceiling).

Reported per source (GSM8K, MMLU) and per MMLU subject.

`--tune-length SOURCE` grids the prior's length term (points per doubling of the word count
beyond the training titles, `server.analysis.prior.length_units`, and how fast the title model's
deviation fades there) and picks the best cell on SOURCE's labels only, printing `route_task`'s
APGR for every cell on every source: the other sources are held out. The shipped values live in
`train_prior.py` (LENGTH_PER_DOUBLING, LENGTH_DAMPING) and the weights file.

    python bench/routing_eval/apgr.py                     # table
    python bench/routing_eval/apgr.py --json              # the same figures as JSON
    python bench/routing_eval/apgr.py --tune-length gsm8k # choose the length term on GSM8K only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import server.analysis.analyzer as analyzer_module  # noqa: E402
from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from bench.routing_eval.train_prior import length_from_words  # noqa: E402
from bench.routing_eval.train_prior import load as load_titles  # noqa: E402
from server.analysis.analyzer import analyze  # noqa: E402
from server.analysis.prior import ComplexityPrior, load_prior  # noqa: E402

DATA = REPO / "bench" / "data" / "routellm_outcomes.jsonl"
EXCLUDED_OWNERS = frozenset({"BiscuitNick", "Chious", "AlexKucera", "AieatAssam"})
RANDOM_DRAWS = 2000
TUNE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
DAMPING_GRID = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Outcome:
    prompt: str
    strong: bool
    weak: bool
    source: str
    split: str


def load(path: Path = DATA) -> list[Outcome]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if str(row["repo"]).split("/")[0] in EXCLUDED_OWNERS:
            raise SystemExit(f"{row['repo']}: this owner must never be used")
        rows.append(Outcome(row["prompt"], bool(row["strong_correct"]), bool(row["weak_correct"]),
                            row["source"], row["split"]))
    return rows


def apgr(scores: Sequence[float], strong: Sequence[bool], weak: Sequence[bool]) -> float:
    """Area under the PGR curve when the highest scores go to the strong model first.

    Tied scores form one group; within it the curve is the expectation over a random
    tie-break, i.e. linear, so the area is exact with the trapezoid rule at group boundaries.
    Returns NaN when the strong model is not better than the weak one on these prompts.
    """
    n = len(scores)
    gap = sum(strong) - sum(weak)
    if n == 0 or gap <= 0:
        return float("nan")
    groups: dict[float, int] = defaultdict(int)  # score -> net gain of sending the group to strong
    sizes: dict[float, int] = defaultdict(int)
    for score, s, w in zip(scores, strong, weak, strict=True):
        groups[score] += int(s) - int(w)
        sizes[score] += 1
    area, gained = 0.0, 0.0
    for score in sorted(groups, reverse=True):
        before = gained / gap
        gained += groups[score]
        after = gained / gap
        area += (before + after) / 2.0 * sizes[score] / n
    return area


def random_apgr(strong: Sequence[bool], weak: Sequence[bool], draws: int, seed: int) -> tuple[float, float, float]:
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


def route_task_before(prompt: str) -> float:
    with analyzer_prior(dataclasses.replace(load_prior(), length_from_words=0, length_per_doubling=0.0)):
        return float(analyze(prompt).complexity)


def prior_raw(prompt: str) -> float:
    for signal in analyze(prompt).signals:
        if signal.startswith("prior:"):
            return float(signal.split(":", 1)[1])
    raise RuntimeError("the analyzer no longer reports its prior")  # pragma: no cover


SCORERS: dict[str, Callable[[str], float]] = {
    "route_task": lambda p: float(analyze(p).complexity),
    "rt_before": route_task_before,
    "prior_raw": prior_raw,
    "length": lambda p: float(len(p)),
    "legacy": lambda p: float(legacy_analyze(p).complexity),
}


def evaluate(rows: list[Outcome], seed: int) -> list[dict[str, object]]:
    scored = {name: [fn(r.prompt) for r in rows] for name, fn in SCORERS.items()}
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row.source, "all")].append(i)
        if row.source == "mmlu":
            groups[(row.source, row.split)].append(i)
    report = []
    for (source, split), idx in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "all", kv[0][1])):
        strong = [rows[i].strong for i in idx]
        weak = [rows[i].weak for i in idx]
        entry: dict[str, object] = {
            "source": source, "split": split, "n": len(idx),
            "strong_acc": round(sum(strong) / len(idx), 3), "weak_acc": round(sum(weak) / len(idx), 3),
        }
        for name, scores in scored.items():
            entry[name] = round(apgr([scores[i] for i in idx], strong, weak), 3)
        mean, low, high = random_apgr(strong, weak, RANDOM_DRAWS, seed)
        entry["random"] = round(mean, 3)
        entry["random_p5_p95"] = [round(low, 3), round(high, 3)]
        oracle = [float(s and not w) - float(w and not s) for s, w in zip(strong, weak, strict=True)]
        entry["oracle"] = round(apgr(oracle, strong, weak), 3)
        report.append(entry)
    return report


def tune_length(rows: list[Outcome], source: str) -> None:
    """Choose the length term (points per doubling x damping) on `source` only; print every source."""
    if source not in {r.source for r in rows}:
        raise SystemExit(f"--tune-length: unknown source {source!r}; one of {sorted({r.source for r in rows})}")
    from_words = length_from_words(load_titles())
    shipped = load_prior()
    sources = sorted({r.source for r in rows})
    results: dict[tuple[float, float], dict[str, float]] = {}
    for damping in DAMPING_GRID:
        for per_doubling in TUNE_GRID:
            candidate = dataclasses.replace(shipped, length_from_words=from_words, length_per_doubling=per_doubling,
                                            length_damping=damping)
            key = (per_doubling, damping)
            results[key] = {}
            with analyzer_prior(candidate):
                for name in sources:
                    part = [r for r in rows if r.source == name]
                    scores = [float(analyze(r.prompt).complexity) for r in part]
                    results[key][name] = apgr(scores, [r.strong for r in part], [r.weak for r in part])
    best = max(results, key=lambda k: (round(results[k][source], 6), -k[0], -k[1]))
    print(f"length term from {from_words} words; route_task APGR by points per doubling and damping "
          f"(chosen on {source} only)")
    print(f"{'per_doubling':>12} {'damping':>8} " + " ".join(f"{name:>8}" for name in sources))
    for key in sorted(results, key=lambda k: (k[1], k[0])):
        mark = "  <- chosen" if key == best else ""
        print(f"{key[0]:>12.2f} {key[1]:>8.2f} " + " ".join(f"{results[key][name]:>8.3f}" for name in sources)
              + mark)
    held = ", ".join(f"{name} {results[best][name]:.3f}" for name in sources if name != source)
    print(f"chosen per_doubling {best[0]}, damping {best[1]} on {source} ({results[best][source]:.3f}); "
          f"held out: {held}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tune-length", metavar="SOURCE", help="choose the length term on this source only")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.tune_length:
        tune_length(load(), args.tune_length)
        return
    report = evaluate(load(), args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    names = [*SCORERS, "random", "oracle"]
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
