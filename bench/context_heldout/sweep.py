"""Measure ranking and selection variants of ours on the dev cases and the Debian tune split in one
run: each case's index is opened once and each ranking computed once per variant's ranking
knobs, so a variant that only changes the selection costs a fill, not a ranking.

    python bench/context_heldout/sweep.py '{"base": {}, "gap20": {"gap_lines": 20}}' \\
        [--sets dev,tune] [--budgets 6000,7000,8000,9000,10000,32000] [--work /tmp/heldout-work] [--per-case]

Each variant is a JSON object of `RankParams` / `SelectParams` fields (as `run.py --params`; an
empty one is the defaults). Printed per set and variant: changed-line coverage (mean over cases) at
each budget and, with several budgets under 20k, their mean ("~8k": a single case flips one 8k
figure by 0.017 on dev and 0.024 on tune; the mean over 6k-10k smooths cases that turn on the last
piece). `--per-case` lists the cases where a variant differs from the first one. The figures equal
`run.py --split tune --only ours` and `bench_context.py --quality-only` (the same selection and
coverage; checked at 8k and 32k: tune 0.665 / 0.788, dev 0.815 / 0.954 at main 8aba1fe).

Tuning sets only (dev, tune, pypi-tune, npm-tune), never the report splits (report, pypi, npm: their
cases are read once, in aggregate, by `run.py`). The tuning cases' repositories come from `--work`
(rebuilt there from the download cache when missing, as `run.py` does); the dev cases are checked
out under `--dev-work`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

import bench_context as bc  # noqa: E402
import run as heldout  # noqa: E402

import server.context.select as select_module  # noqa: E402
from server.context import ContextOptions, close_indexes  # noqa: E402
from server.context.request import repository_root  # noqa: E402
from server.context.service import _open  # noqa: E402

PYPI_TUNE = HERE.parent / "data" / "context_pypi_tune.jsonl"  # PyPI patch releases, the tuning list
NPM_TUNE = HERE.parent / "data" / "context_npm_tune.jsonl"  # npm patch releases, the tuning list
Case = tuple[str, str, Path, str, dict[str, list[int]], Path]  # set, id, workspace, task, gold lines, index cache


def memoise_rank() -> dict[tuple[str, ...], Any]:
    """Rankings memoised per snapshot, task, named texts, knobs and limit (cleared per case)."""
    real = select_module.rank
    memo: dict[tuple[str, ...], Any] = {}

    def ranked(snapshot: Any, task: str, named: Any = (), params: Any = None, **kw: Any) -> Any:
        key = (str(snapshot.key), task, repr(tuple(named)), repr(params), repr(sorted(kw.items())))
        if key not in memo:
            memo[key] = real(snapshot, task, named, params, **kw)
        return memo[key]

    select_module.rank = ranked  # type: ignore[assignment]
    return memo


def load_cases(sets: list[str], work: Path, dev_work: Path) -> list[Case]:
    out: list[Case] = []
    if "dev" in sets:
        dev = bc.dev_dir()
        dev_work.mkdir(parents=True, exist_ok=True)
        gold = bc.gold_lines(dev)
        for c in bc.materialize(dev, dev_work):
            out.append(("dev", str(c["id"]), Path(str(c["ws"])), str(c["task"]), gold[str(c["id"])], dev_work / "cache"))
    for name, data in (("tune", heldout.DATA), ("pypi-tune", PYPI_TUNE), ("npm-tune", NPM_TUNE)):
        if name not in sets:
            continue
        work.mkdir(parents=True, exist_ok=True)
        for c in (json.loads(line) for line in data.read_text().splitlines() if line.strip()):
            if c["split"] == name:
                ws = heldout.materialize(c, work)
                out.append((name, str(c["id"]), ws, str(c["task"]), c["gold_lines"], work / "cache"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", help='JSON: {"name": {knob: value, ...}, ...}; the first is the reference')
    parser.add_argument("--sets", default="dev,tune",
                        help="dev, tune, pypi-tune, npm-tune, comma-separated "
                             "(never the report splits: report, pypi, npm)")
    parser.add_argument("--budgets", default="6000,7000,8000,9000,10000,32000")
    parser.add_argument("--work", default="/tmp/heldout-work", help="run.py's --work: the tune repositories and indexes")
    parser.add_argument("--dev-work", default="/tmp/context-dev-work", help="dev checkouts and indexes")
    parser.add_argument("--per-case", action="store_true")
    args = parser.parse_args()
    variants: dict[str, dict[str, Any]] = json.loads(args.variants)
    budgets = [int(b) for b in args.budgets.split(",")]
    sets = [s for s in args.sets.split(",") if s]
    if any(s not in ("dev", "tune", "pypi-tune", "npm-tune") for s in sets):
        sys.exit("--sets: dev, tune, pypi-tune and/or npm-tune only")
    memo = memoise_rank()
    results: dict[tuple[str, str, int], list[tuple[str, float]]] = {}
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    for name, case_id, ws, task, gold, cache in load_cases(sets, Path(args.work), Path(args.dev_work)):
        index, _ = _open(repository_root(ws, "workspace"), ContextOptions(cache))
        snapshot = index.snapshot(None)
        for variant, knobs in variants.items():
            params = bc.loro_params(knobs) if knobs else None
            for budget in budgets:
                sel = select_module.select_from_snapshot(snapshot, task, [], budget, params)
                ranges = [(i.path, i.start_line, i.end_line) for i in sel.items]
                cov = bc.coverage(gold, ranges) if sel.total_tokens <= budget else 0.0
                results.setdefault((name, variant, budget), []).append((case_id, cov))
        memo.clear()
        close_indexes()
    small = [b for b in budgets if b < 20_000]
    for name in sets:
        for variant in variants:
            means = {b: statistics.mean(c for _, c in results[(name, variant, b)]) for b in budgets}
            line = f"{name:9s} {variant:24s}" + "".join(f"  {b // 1000}k {means[b]:.3f}" for b in budgets)
            if len(small) > 1:
                line += f"  ~8k {statistics.mean(means[b] for b in small):.3f}"
            print(line)
    if args.per_case and len(variants) > 1:
        first, *others = list(variants)
        for name in sets:
            for budget in budgets:
                for k, (case_id, base) in enumerate(results[(name, first, budget)]):
                    got = [results[(name, v, budget)][k][1] for v in others]
                    if any(abs(g - base) > 1e-9 for g in got):
                        print(f"  {name} {budget // 1000}k {case_id[:50]:50s} {base:.2f} -> " + " ".join(f"{g:.2f}" for g in got))
    print(f"{time.perf_counter() - t0:.0f} s; load average (1 min) {load0:.1f}..{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
