"""The issue-text study (bench/routing_eval/coding_features.py): its features read what they name,
and its leave-one-repository-out fit finds a signal that is there and invents none from the fold."""

from __future__ import annotations

import random

import pytest

from bench.routing_eval.apgr import apgr
from bench.routing_eval.coding_features import fit_predict, logistic, loro, readings
from bench.routing_eval.coding_outcomes import CodingOutcome
from bench.routing_eval.issue_features import NAMES, issue_features

TRACE_ISSUE = """**Title: Crash when saving**

Steps to reproduce:
1. open `config/settings.py`
2. call `save_all()`

```
Traceback (most recent call last):
  File "app/main.py", line 10, in <module>
ValueError: bad
```
Expected behavior: it saves. Actual behavior: it crashes."""


def test_issue_features_read_the_trace_steps_paths_and_code_blocks_of_an_issue() -> None:
    plain = dict(zip(NAMES, issue_features("Add support for a dark mode option in the settings page"), strict=True))
    issue = dict(zip(NAMES, issue_features(TRACE_ISSUE), strict=True))
    assert (issue["trace"], plain["trace"]) == (1.0, 0.0)
    assert (issue["steps"], issue["expected"], issue["actual"]) == (1.0, 1.0, 1.0)
    assert issue["paths"] > 0 == plain["paths"]
    assert issue["code_blocks"] > 0 == plain["code_blocks"]
    assert plain["feature"] > 0


def _rows(n_per_repo: int, repos: int, seed: int) -> tuple[list[CodingOutcome], list[list[float]], list[bool], list[bool]]:
    """Synthetic issues where only feature 0 decides whether the weak model fails and the strong one solves."""
    rng = random.Random(seed)
    rows, feats, strong, weak = [], [], [], []
    for r in range(repos):
        for i in range(n_per_repo):
            signal, noise = rng.random(), rng.random()
            gain = rng.random() < signal
            rows.append(CodingOutcome(f"x{r}-{i}", f"owner/repo{r}", "text", {}))
            feats.append([signal, noise])
            strong.append(gain or rng.random() < 0.3)
            weak.append(not gain and rng.random() < 0.5)
    return rows, feats, strong, weak


def test_leave_one_repository_out_finds_a_planted_signal_in_every_held_out_repository() -> None:
    rows, feats, strong, weak = _rows(40, 3, seed=1)
    scores = loro(rows, feats, strong, weak, "gain", lam=0.05)
    pooled, within, per_repo = readings(scores, strong, weak, [r.repo for r in rows])
    truth = apgr([f[0] for f in feats], strong, weak)  # ordering by the deciding feature itself
    noise = apgr([f[1] for f in feats], strong, weak)
    assert truth > noise + 0.1
    assert min(pooled, within, per_repo) > truth - 0.05


def test_held_out_scores_carry_no_fold_constant() -> None:
    # Same weights, different training means: the held-out scores must not move with the fold's mean label.
    train_x = [[float(i % 5), float(i % 3)] for i in range(30)]
    test_x = [[1.0, 2.0], [3.0, 0.0]]
    low = fit_predict("gain", train_x, [0.1 * x[0] for x in train_x], test_x, lam=0.0)
    high = fit_predict("gain", train_x, [0.1 * x[0] + 5.0 for x in train_x], test_x, lam=0.0)
    assert low == pytest.approx(high)


def test_logistic_fit_puts_the_deciding_feature_first() -> None:
    xs = [[1.0, x / 10.0, (x * 7 % 10) / 10.0] for x in range(-10, 11)]
    ys = [1.0 if x[1] > 0 else 0.0 for x in xs]
    weights = logistic(xs, ys, lam=0.5)
    assert weights[1] > 0 and abs(weights[1]) > abs(weights[2])
