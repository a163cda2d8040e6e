"""What in an issue's text separates what a cheap model's agent solves from what only a strong one solves.

Data: bench/data/coding_outcomes.jsonl (SWE-bench Pro public set; see coding_outcomes.py). Per
model pair, a small model over `issue_features` (a dozen-odd surface counts of the text) is fitted
leave-one-repository-out: for each repository, fit on the other repositories' issues and score
the held-out one's; the held-out scores of all repositories are then measured together. Beside it,
in the same run on the same issues: `route_task` (the shipped score), `length`, `legacy`, and
random orderings (mean, 5th-95th percentile).

Three ways of reading the same scores, because solve rates differ a lot between repositories
(Kimi K2 solves 7% of flipt's issues and 52% of qutebrowser's) and a score that only recognises
the repository can win the pooled figure:

- `pooled`: APGR over all held-out issues together;
- `within`: per-repository APGR averaged with each repository weighted by its gap (strong solved
  minus weak solved): only the order inside each repository counts, and repositories where the
  two models differ by a handful of issues (whose APGR swings far outside [0, 1]) weigh little;
- `per-repo mean`: the mean of per-repository APGR (repositories where the strong model gains).

Targets tried (each a separate model; which one to read was not chosen on held-out figures, all
are printed): `gain` ridge on (strong solved - weak solved), `hard` logistic on "weak failed",
`only_strong` logistic on "strong solved and weak failed".

    python bench/routing_eval/coding_features.py            # LORO table, ~1 min
    python bench/routing_eval/coding_features.py --single   # each feature alone, pooled and within
    python bench/routing_eval/coding_features.py --null 40  # + the fitted model's own noise floor
    python bench/routing_eval/coding_features.py --title-check  # the title-line idea on unseen issues
    python bench/routing_eval/coding_features.py --title-split  # ... chosen on half the repositories
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.apgr import apgr  # noqa: E402
from bench.routing_eval.coding_outcomes import PAIRS, SCORERS, CodingOutcome, load, pair_rows  # noqa: E402
from bench.routing_eval.issue_features import NAMES, issue_features  # noqa: E402
from server.analysis.analyzer import analyze  # noqa: E402
from server.analysis.prior import NO_LENGTH_TERM, beyond_trained_length, load_prior  # noqa: E402

# The commit where the data file held its first 207 issues: the only ones the title-line idea was
# looked at on (bench/routing_eval/README.md, session 4). `--title-check` tests it on the rest.
FIRST_ROWS_COMMIT = "bb0d830"
_TITLE_PREFIX = re.compile(r"^[#*\s]*(?:title\s*:?\s*)?", re.I)

Matrix = list[list[float]]


def solve(a: Matrix, b: list[float]) -> list[float]:
    """Solve a x = b by Gauss-Jordan elimination with partial pivoting (small dense systems)."""
    n = len(b)
    rows = [list(a[i]) + [b[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col]:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def standardise(train: Matrix, *others: Matrix) -> tuple[Matrix, ...]:
    """Centre and scale each column on `train`'s statistics; prepend an intercept column."""
    cols = len(train[0])
    means = [statistics.fmean(r[j] for r in train) for j in range(cols)]
    sds = [statistics.pstdev([r[j] for r in train]) or 1.0 for j in range(cols)]
    return tuple([[1.0] + [(r[j] - means[j]) / sds[j] for j in range(cols)] for r in m] for m in (train, *others))


def ridge(xs: Matrix, ys: list[float], lam: float) -> list[float]:
    n = len(xs[0])
    a = [[sum(x[i] * x[j] for x in xs) + (lam if i == j and i > 0 else 0.0) for j in range(n)] for i in range(n)]
    return solve(a, [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(n)])


def logistic(xs: Matrix, ys: list[float], lam: float, steps: int = 25) -> list[float]:
    """L2-penalised logistic regression by Newton's method (intercept unpenalised)."""
    n = len(xs[0])
    w = [0.0] * n
    for _ in range(steps):
        ps = [1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, sum(a * b for a, b in zip(w, x, strict=True)))))) for x in xs]
        grad = [sum((p - y) * x[i] for x, y, p in zip(xs, ys, ps, strict=True)) + (lam * w[i] if i else 0.0)
                for i in range(n)]
        hess = [[sum(p * (1 - p) * x[i] * x[j] for x, p in zip(xs, ps, strict=True)) + (lam if i == j and i else 0.0)
                 for j in range(n)] for i in range(n)]
        step = solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return w


def dot(w: Sequence[float], x: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(w, x, strict=True))


TARGETS: dict[str, tuple[str, Callable[[bool, bool], float]]] = {
    "gain": ("ridge", lambda s, w: float(s) - float(w)),
    "hard": ("logistic", lambda s, w: float(not w)),
    "only_strong": ("logistic", lambda s, w: float(s and not w)),
}


def fit_predict(target: str, train_x: Matrix, train_y: list[float], test_x: Matrix, lam: float) -> list[float]:
    """Fit on the training rows, return the held-out rows' linear scores without any constant.

    The intercept and the centring are constants of the fold, and they differ between folds in a
    way that anti-correlates with the held-out repository's labels (its own issues are missing from
    the training mean), which would make pooled leave-one-out figures fall below random for no
    reason in the text. So the score is the weighted sum of the raw features only.
    """
    (tr,) = standardise(train_x)
    kind, _ = TARGETS[target]
    w = ridge(tr, train_y, lam * len(tr)) if kind == "ridge" else logistic(tr, train_y, lam * len(tr))
    cols = len(train_x[0])
    sds = [statistics.pstdev([r[j] for r in train_x]) or 1.0 for j in range(cols)]
    per_unit = [w[j + 1] / sds[j] for j in range(cols)]
    return [dot(per_unit, x) for x in test_x]


def readings(scores: Sequence[float], strong: Sequence[bool], weak: Sequence[bool], groups: Sequence[str]) -> tuple[float, float, float]:
    """(pooled, within, per-repo mean) APGR of one score."""
    pooled = apgr(scores, strong, weak)
    per: list[float] = []
    gaps: list[float] = []
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        value = apgr([scores[i] for i in idx], [strong[i] for i in idx], [weak[i] for i in idx])
        if not math.isnan(value):
            per.append(value)
            gaps.append(sum(strong[i] for i in idx) - sum(weak[i] for i in idx))
    if not per:
        return pooled, float("nan"), float("nan")
    within = sum(v * g for v, g in zip(per, gaps, strict=True)) / sum(gaps)
    return pooled, within, statistics.fmean(per)


def repos_above_half(scores: Sequence[float], strong: Sequence[bool], weak: Sequence[bool],
                     groups: Sequence[str]) -> tuple[int, int]:
    """In how many repositories (of those where the strong model gains) the score orders better than random."""
    up = of = 0
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        value = apgr([scores[i] for i in idx], [strong[i] for i in idx], [weak[i] for i in idx])
        if not math.isnan(value):
            of += 1
            up += value > 0.5
    return up, of


def random_band(strong: Sequence[bool], weak: Sequence[bool], groups: Sequence[str], draws: int, seed: int) -> list[tuple[float, float, float]]:
    """Mean, p5, p95 of each reading over seeded random orderings."""
    rng = random.Random(seed)
    runs = [readings([rng.random() for _ in strong], strong, weak, groups) for _ in range(draws)]
    out = []
    for k in range(3):
        vals = sorted(r[k] for r in runs)
        out.append((statistics.fmean(vals), vals[int(0.05 * draws)], vals[int(0.95 * draws) - 1]))
    return out


def print_readings(scored: dict[str, list[float]], strong: Sequence[bool], weak: Sequence[bool],
                   groups: Sequence[str], draws: int, seed: int, width: int) -> None:
    """One line per scorer (pooled, within, per-repository APGR and the repositories above 0.5), then
    the random ordering's mean and p5-p95 band."""
    for name, scores in scored.items():
        p, w, m = readings(scores, strong, weak, groups)
        up, of = repos_above_half(scores, strong, weak, groups)
        print(f"{name:{width}} {p:8.3f} {w:8.3f} {m:9.3f}   above 0.5 in {up} of {of} repositories")
    band = random_band(strong, weak, groups, draws, seed)
    print(f"{'random mean (p5-p95)':{width}} " + " ".join(f"{mean:.3f} ({lo:.3f}-{hi:.3f})" for mean, lo, hi in band))


def centre_by(values: Matrix, groups: Sequence[str]) -> Matrix:
    """Subtract each group's column means (what is left is the variation inside each repository)."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    out = [list(v) for v in values]
    for idx in members.values():
        for j in range(len(values[0])):
            mean = statistics.fmean(values[i][j] for i in idx)
            for i in idx:
                out[i][j] -= mean
    return out


def loro(rows: Sequence[CodingOutcome], feats: Matrix, strong: list[bool], weak: list[bool], target: str, lam: float,
         centre: bool = False) -> list[float]:
    """Leave-one-repository-out predictions for every row.

    `centre`: fit on features and labels centred per training repository (ridge targets only), so
    the model learns what orders issues inside a repository, not what tells repositories apart.
    """
    _, label = TARGETS[target]
    ys = [label(s, w) for s, w in zip(strong, weak, strict=True)]
    if centre:
        groups = [r.repo for r in rows]
        fit_x = centre_by(feats, groups)
        fit_y = [v[0] for v in centre_by([[y] for y in ys], groups)]
    else:
        fit_x, fit_y = feats, ys
    out = [0.0] * len(rows)
    for repo in sorted({r.repo for r in rows}):
        test = [i for i, r in enumerate(rows) if r.repo == repo]
        train = [i for i, r in enumerate(rows) if r.repo != repo]
        preds = fit_predict(target, [fit_x[i] for i in train], [fit_y[i] for i in train], [feats[i] for i in test], lam)
        for i, p in zip(test, preds, strict=True):
            out[i] = p
    return out


def loro_null(rows: Sequence[CodingOutcome], feats: Matrix, strong: list[bool], weak: list[bool], lam: float,
              draws: int, seed: int) -> list[tuple[float, float, float]]:
    """The noise floor of a *fitted* leave-one-repository-out score: the `gain` model refitted on
    outcomes shuffled inside each repository (per-repository solve rates kept, any link between
    text and outcome broken). Mean, p5, p95 of each reading."""
    rng = random.Random(seed)
    groups = [r.repo for r in rows]
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    runs = []
    for _ in range(draws):
        s2, w2 = list(strong), list(weak)
        for idx in members.values():
            shuffled = idx[:]
            rng.shuffle(shuffled)
            for a, b in zip(idx, shuffled, strict=True):
                s2[a], w2[a] = strong[b], weak[b]
        runs.append(readings(loro(rows, feats, s2, w2, "gain", lam), s2, w2, groups))
    out = []
    for k in range(3):
        vals = sorted(r[k] for r in runs)
        out.append((statistics.fmean(vals), vals[int(0.05 * draws)], vals[max(0, int(0.95 * draws) - 1)]))
    return out


def title_line(text: str) -> str:
    """The issue's title: its first line with some text, without markdown and a "Title:" label."""
    for line in text.splitlines():
        cleaned = _TITLE_PREFIX.sub("", line.strip()).strip("*: ")
        if len(cleaned) > 3:
            return cleaned
    return text[:80]


def title_check(rows: Sequence[CodingOutcome], draws: int, seed: int) -> None:
    """The title model (no long-prompt handling) on each issue's title line: on the first 207 issues
    (where it was first seen to score well) and on the issues added after (never looked at with it)."""
    old = subprocess.run(["git", "show", f"{FIRST_ROWS_COMMIT}:bench/data/coding_outcomes.jsonl"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    first = {json.loads(line)["instance_id"] for line in old.splitlines() if line.strip()}
    bare = dataclasses.replace(load_prior(), length=NO_LENGTH_TERM)
    print(f"\n{'title line, title model only':36} {'n':>4} {'pooled':>8} {'within':>8} {'per-repo':>9}  random pooled p5-p95")
    for weak_model, strong_model in PAIRS:
        for part, keep in (("first 207", True), ("added later", False)):
            subset = [r for r in rows if (r.instance_id in first) == keep
                      and r.resolved.get(weak_model) is not None and r.resolved.get(strong_model) is not None]
            strong = [bool(r.resolved[strong_model]) for r in subset]
            weak = [bool(r.resolved[weak_model]) for r in subset]
            groups = [r.repo for r in subset]
            p, w, m = readings([bare.predict(title_line(r.text)) for r in subset], strong, weak, groups)
            _, lo, hi = random_band(strong, weak, groups, draws, seed)[0]
            print(f"{strong_model + ', ' + part:36} {len(subset):>4} {p:8.3f} {w:8.3f} {m:9.3f}  {lo:.3f}-{hi:.3f}")


def title_candidates(text: str) -> dict[str, float]:
    """The title-line rules `--title-split` chooses among, beside the shipped score (`route_task`).

    `title line`: the title model alone on the issue's first line (session 4's idea); `title line +
    long text`: the title model's deviation on that line kept at full weight, plus the shipped
    length and reading-grade terms of the whole text (what `beyond_trained_length` adds, without
    fading the title model out).
    """
    prior = load_prior()
    bare = dataclasses.replace(prior, length=NO_LENGTH_TERM)
    title = bare.predict(title_line(text))
    long_part = beyond_trained_length(0.0, text, prior.length)
    return {"route_task": analyze(text).score, "title line": title, "title line + long text": title + long_part}


def title_split(rows: Sequence[CodingOutcome], draws: int, seed: int) -> None:
    """Choose among the title-line rules on half the repositories, measure the choice on the other half.

    The 11 repositories, sorted by name, are split alternately into halves A and B (fixed before any
    figure was seen). For each pair and each direction, the rule with the best pooled APGR on the
    choosing half is read on the other half beside `route_task` and random orderings there.
    """
    names = sorted({r.repo for r in rows})
    half = {name: "AB"[i % 2] for i, name in enumerate(names)}
    print("\nhalves: " + "; ".join(f"{h}: " + ", ".join(n for n in names if half[n] == h) for h in "AB"))
    scored = [title_candidates(r.text) for r in rows]
    print(f"{'pair, chosen on -> measured on':44} {'choice':24} {'there':>7} {'held out':>9} {'route_task':>11}  random p5-p95")
    def part(h: str, weak_model: str, strong_model: str) -> list[int]:
        return [i for i, r in enumerate(rows) if half[r.repo] == h
                and r.resolved.get(weak_model) is not None and r.resolved.get(strong_model) is not None]

    def pooled(idx: list[int], name: str, weak_model: str, strong_model: str) -> float:
        return apgr([scored[i][name] for i in idx], [bool(rows[i].resolved[strong_model]) for i in idx],
                    [bool(rows[i].resolved[weak_model]) for i in idx])

    for weak_model, strong_model in PAIRS:
        for choose, measure in (("A", "B"), ("B", "A")):
            there, held = part(choose, weak_model, strong_model), part(measure, weak_model, strong_model)
            best = max(scored[0], key=lambda name: pooled(there, name, weak_model, strong_model))
            strong = [bool(rows[i].resolved[strong_model]) for i in held]
            weak = [bool(rows[i].resolved[weak_model]) for i in held]
            _, lo, hi = random_band(strong, weak, ["all"] * len(held), draws, seed)[0]
            pair = (weak_model, strong_model)
            print(f"{strong_model + ', ' + choose + ' -> ' + measure:44} {best:24} {pooled(there, best, *pair):7.3f} "
                  f"{pooled(held, best, *pair):9.3f} {pooled(held, 'route_task', *pair):11.3f}  {lo:.3f}-{hi:.3f}")
            print("   every rule there / held out: " + "; ".join(
                f"{name} {pooled(there, name, *pair):.3f} / {pooled(held, name, *pair):.3f}" for name in scored[0]))


def per_repo_table(scored: dict[str, list[float]], strong: Sequence[bool], weak: Sequence[bool],
                   groups: Sequence[str], draws: int, seed: int) -> None:
    """Each held-out repository's own APGR per scorer, beside its random band (nan: no gap)."""
    names = [n for n in scored if n != "rt_tier"]
    print(f"\n{'repository':28} {'n':>4} {'weak':>5} {'strong':>6} " + " ".join(f"{n[:11]:>11}" for n in names)
          + "  random p5-p95")
    for g in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == g]
        s, w = [strong[i] for i in idx], [weak[i] for i in idx]
        values = [apgr([scored[n][i] for i in idx], s, w) for n in names]
        _, lo, hi = random_band(s, w, [g] * len(idx), draws, seed)[0]
        print(f"{g:28} {len(idx):>4} {sum(w) / len(idx):5.2f} {sum(s) / len(idx):6.2f} "
              + " ".join(f"{v:11.3f}" for v in values) + f"  {lo:.3f}-{hi:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--lam", type=float, default=0.05, help="L2 strength per issue (standardised features)")
    parser.add_argument("--single", action="store_true", help="each feature alone instead of the models")
    parser.add_argument("--drop", default="", help="comma-separated feature names to leave out")
    parser.add_argument("--title-check", action="store_true", help="only the title-line check (see title_check)")
    parser.add_argument("--title-split", action="store_true", help="only the title-line rules chosen on half the repositories")
    parser.add_argument("--null", type=int, default=0, metavar="N",
                        help="also refit the gain model on N within-repository shuffles of the outcomes")
    args = parser.parse_args()
    started = time.perf_counter()
    all_rows = load()
    if args.title_check:
        title_check(all_rows, args.draws, args.seed)
        return
    if args.title_split:
        title_split(all_rows, args.draws, args.seed)
        return
    drop = {d for d in args.drop.split(",") if d}
    keep = [j for j, name in enumerate(NAMES) if name not in drop]
    for weak_model, strong_model in PAIRS:
        rows, strong, weak, groups = pair_rows(all_rows, weak_model, strong_model)
        feats = [[f[j] for j in keep] for f in (issue_features(r.text) for r in rows)]
        print(f"\n{weak_model} -> {strong_model}: {len(rows)} issues, {len(set(groups))} repositories")
        print(f"{'scorer':28} {'pooled':>8} {'within':>8} {'per-repo':>9}")
        scored: dict[str, list[float]] = {name: [fn(r.text) for r in rows] for name, fn in SCORERS.items()}
        if args.single:
            for j, name in enumerate(NAMES[k] for k in keep):
                scored[f"feature:{name}"] = [f[j] for f in feats]
        else:
            for target in TARGETS:
                scored[f"loro:{target}"] = loro(rows, feats, strong, weak, target, args.lam)
            scored["loro:gain, centred per repo"] = loro(rows, feats, strong, weak, "gain", args.lam, centre=True)
        print_readings(scored, strong, weak, groups, args.draws, args.seed, 28)
        if args.null:
            null = loro_null(rows, feats, strong, weak, args.lam, args.null, args.seed)
            print(f"{'fitted gain on shuffles':28} " + " ".join(f"{m:.3f} ({lo:.3f}-{hi:.3f})" for m, lo, hi in null))
        if not args.single:
            per_repo_table(scored, strong, weak, groups, args.draws, args.seed)
    print(f"\n({time.perf_counter() - started:.1f}s, seed {args.seed}, lam {args.lam}, {args.draws} random draws)")


if __name__ == "__main__":
    main()
