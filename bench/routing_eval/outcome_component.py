"""Try a scorer trained on RouteLLM's own outcomes, held out by source (tried, not shipped).

A ridge regression of (strong correct - weak correct) on a few surface features of the prompt -
log word count, log count of numbers, share of symbol characters, log line count - is fitted on
one source (GSM8K or MMLU) and scored by APGR on every source, beside prompt length in the same
run. Fitted and scored on the same source it looks good; on the other source it falls below
random (bench/routing_eval/README.md), so nothing of it ships.

    python bench/routing_eval/outcome_component.py
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.apgr import Outcome, apgr, load  # noqa: E402
from server.analysis.prior import word_count  # noqa: E402

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def surface(prompt: str) -> list[float]:
    symbols = sum(1 for ch in prompt if not ch.isalnum() and not ch.isspace()) / max(1, len(prompt))
    return [
        1.0,
        math.log2(1 + word_count(prompt)),
        math.log2(1 + len(_NUMBER.findall(prompt))),
        10.0 * symbols,
        math.log2(1 + prompt.count("\n")),
    ]


def fit_ridge(xs: list[list[float]], ys: list[float], lam: float = 1.0) -> list[float]:
    """Closed-form ridge (intercept unpenalised) by Gauss-Jordan elimination on the normal equations."""
    n = len(xs[0])
    rows = [
        [sum(x[i] * x[j] for x in xs) + (lam if i == j and i > 0 else 0.0) for j in range(n)]
        + [sum(x[i] * y for x, y in zip(xs, ys, strict=True))]
        for i in range(n)
    ]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def main() -> None:
    rows = load()
    sources = sorted({r.source for r in rows})
    print("| fitted on | scored on | outcome model | length |")
    print("| --- | --- | --- | --- |")
    for train in sources:
        fitted = [r for r in rows if r.source == train]
        weights = fit_ridge([surface(r.prompt) for r in fitted], [float(r.strong) - float(r.weak) for r in fitted])
        for test in sources:
            part: list[Outcome] = [r for r in rows if r.source == test]
            strong, weak = [r.strong for r in part], [r.weak for r in part]
            model = [sum(w * f for w, f in zip(weights, surface(r.prompt), strict=True)) for r in part]
            length = [float(len(r.prompt)) for r in part]
            note = " (in-sample)" if test == train else " (held out)"
            print(f"| {train} | {test}{note} | {apgr(model, strong, weak):.3f} | {apgr(length, strong, weak):.3f} |")


if __name__ == "__main__":
    main()
