"""Compare candidate learned priors on Task Master titles, held out by owner, in one run.

Every candidate is trained and scored on the same outer folds (group k-fold by repository owner,
seed fixed), beside the baselines `length` (title characters) and `legacy` (the hand-set analyzer
at commit facf8dd). Candidates differ in what the ridge model is fitted to (raw labels, labels
centred or standardised per repository) and in their features (with or without word prefixes as
a cheap stemmer, with or without the hand-set keyword score). The ridge strength is chosen per outer fold by
an inner group k-fold on the training owners only. The winner's features live in
`server.analysis.prior.features`; `train_prior.py` trains the shipped weights.

    python bench/routing_eval/compare_priors.py [--data FILE] [--seed 7] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from bench.routing_eval.train_prior import (  # noqa: E402
    DATA,
    Row,
    Sparse,
    choose_lambda,
    fit_ridge,
    group_folds,
    load,
    owner,
    per_repo,
    predict,
    spearman,
)
from server.analysis.analyzer import keyword_score  # noqa: E402
from server.analysis.prior import _WORD, FEATURE_BUCKETS, features  # noqa: E402

LAMBDAS = (3.0, 10.0, 30.0, 100.0)


def labels_raw(rows: list[Row]) -> list[float]:
    return [float(r["complexity"]) for r in rows]  # type: ignore[arg-type]


def _by_repo(rows: list[Row], ys: list[float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for row, y in zip(rows, ys, strict=True):
        out[str(row["repo"])].append(y)
    return out


def labels_centred(rows: list[Row]) -> list[float]:
    ys = labels_raw(rows)
    groups = _by_repo(rows, ys)
    means = {k: statistics.fmean(v) for k, v in groups.items()}
    overall = statistics.fmean(ys)
    return [y - means[str(r["repo"])] + overall for r, y in zip(rows, ys, strict=True)]


def labels_standardised(rows: list[Row]) -> list[float]:
    """Each repository's labels as z-scores (a repository with one label value gets 0)."""
    ys = labels_raw(rows)
    groups = _by_repo(rows, ys)
    stats = {k: (statistics.fmean(v), statistics.pstdev(v)) for k, v in groups.items()}
    out = []
    for row, y in zip(rows, ys, strict=True):
        mean, sd = stats[str(row["repo"])]
        out.append((y - mean) / sd if sd > 0 else 0.0)
    return out


def feats_base(title: str) -> Sparse:
    """What the shipped prior uses: words, bigrams, 5-letter prefixes, signals, keyword score, length."""
    return features(title, None, keyword_score(title))


def feats_no_prefix(title: str) -> Sparse:
    return features(title, None, keyword_score(title), prefixes=False)


def feats_no_keyword(title: str) -> Sparse:
    return features(title, None, None)


def _with_prefixes(base: Sparse, title: str, size: int) -> Sparse:
    out = dict(base)
    for word in _WORD.findall(title):
        low = word.lower()
        if len(low) > size:
            key = zlib.crc32(("p4:" + low[:size]).encode()) % FEATURE_BUCKETS
            out[key] = out.get(key, 0.0) + 1.0
    return out


def feats_no_prefix_plus4(title: str) -> Sparse:
    return _with_prefixes(feats_no_prefix(title), title, 4)


def labels_half_centred(rows: list[Row]) -> list[float]:
    """Half-way between raw and centred: keeps some of a project's level, removes some."""
    return [(a + b) / 2.0 for a, b in zip(labels_raw(rows), labels_centred(rows), strict=True)]


CANDIDATES: dict[str, tuple[Callable[[list[Row]], list[float]], Callable[[str], Sparse]]] = {
    "centred per repo, no prefixes (the prior before)": (labels_centred, feats_no_prefix),
    "raw labels, no prefixes": (labels_raw, feats_no_prefix),
    "standardised per repo, no prefixes": (labels_standardised, feats_no_prefix),
    "centred per repo + 5-letter prefixes": (labels_centred, feats_base),
    "standardised per repo + 5-letter prefixes": (labels_standardised, feats_base),
    "half-centred + 5-letter prefixes": (labels_half_centred, feats_base),
    "raw labels + 4-letter prefixes": (labels_raw, feats_no_prefix_plus4),
    "raw labels + 5-letter prefixes, no keyword score": (labels_raw, feats_no_keyword),
    "raw labels + 5-letter prefixes (shipped)": (labels_raw, feats_base),
}


def held_out(rows: list[Row], targets: list[float], xs: list[Sparse], k: int, seed: int) -> list[float]:
    groups = [owner(r) for r in rows]
    out = [0.0] * len(rows)
    for held in group_folds(groups, k, seed):
        train = [i for i, g in enumerate(groups) if g not in held]
        test = [i for i, g in enumerate(groups) if g in held]
        lam = choose_lambda([xs[i] for i in train], [targets[i] for i in train], [groups[i] for i in train], seed,
                            folds_k=3, sweeps=30, lambdas=LAMBDAS)
        model = fit_ridge([xs[i] for i in train], [targets[i] for i in train], lam, sweeps=30)
        for i in test:
            out[i] = predict(model, xs[i])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = load(args.data)
    ys = labels_raw(rows)
    scores: dict[str, list[float]] = {
        "length (chars)": [float(len(str(r["title"]))) for r in rows],
        "legacy analyzer": [float(legacy_analyze(str(r["title"])).complexity) for r in rows],
    }
    for name, (target_fn, feat_fn) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        xs = [feat_fn(str(r["title"])) for r in rows]
        scores[name] = held_out(rows, target_fn(rows), xs, args.folds, args.seed)
    print(f"{len(rows)} tasks, {len({str(r['repo']) for r in rows})} repos, "
          f"{len({owner(r) for r in rows})} owners; {args.folds} folds by owner, seed {args.seed}")
    print("| scorer | pooled Spearman | mean per-repo Spearman (repos) |")
    print("| --- | --- | --- |")
    report = {}
    for name, values in scores.items():
        repo_mean, n = per_repo(rows, values, ys)
        pooled = spearman(values, ys)
        report[name] = (round(pooled, 3), round(repo_mean, 3), n)
        print(f"| {name} | {pooled:.3f} | {repo_mean:.3f} ({n}) |")
    print(f"({time.perf_counter() - started:.0f}s)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
