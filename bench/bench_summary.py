"""A design task's workspace summary: its tokens against ranked code and the whole repository, and its speed.

    python bench/bench_summary.py [--runs 3] [--files 2000]

Two repositories: this project's (its working tree) and one of 2,000 real Python files
(`bench_context.speed_repo`: the installed packages and the standard library in a temporary git
repository). Per repository, a few design requests naming its parts run in both modes: "summary"
(what a design request gets by default: structure, signatures, imports, latest commits, within
`SUMMARY_BUDGET`) and "code" (ranked code, what the same task got before, at the default budget of
a 128k-window model under the `code` policy). Printed: the tokens each sends beside the whole
repository's, and the warm selection time of each mode (p50 / p95 over the tasks; min and median
over --runs runs, each on a fresh index cache after one cold selection).

The seeds' target for "summarized context for high-level tasks" is a 90% reduction against
sending the code. This measures tokens and time only: whether a design written from a summary is
better than one written from code is not measured here (no externally labelled data for it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_context import speed_repo  # noqa: E402

from server.analysis.tokens import count_tokens  # noqa: E402
from server.context import ContextOptions, close_indexes, default_budget, select_context  # noqa: E402
from server.context.summary import SUMMARY_BUDGET  # noqa: E402

# A 128k-window model answering up to 8k tokens under the `code` policy (policies.toml).
CODE_BUDGET = default_budget(128_000, 16_000, 8_000)

OWN_TASKS = [
    "Design a plugin system so third parties can add provider backends without editing the server",
    "Propose how the scheduler should be split so groups can run on several machines",
    "Plan the migration of the store from SQLite to PostgreSQL only",
    "How should we structure the validation engine to support more languages?",
    "Design a cache for workspace selections shared between server processes",
]
BIG_TASKS = [
    "Design a plugin architecture for the {pkg} package",
    "Propose how {pkg} should be split into smaller modules",
    "Plan the migration of {pkg} to asynchronous I/O",
    "How should we structure the tests of {pkg}?",
]


def big_tasks(repo: Path) -> list[str]:
    packages = sorted(p.name for p in (repo / "pkg").iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    step = max(1, len(packages) // 5)
    return [t.format(pkg=p) for p in packages[::step][:5] for t in BIG_TASKS]


def measure(repo: Path, tasks: list[str], runs: int, tmp: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("sum_tokens", "code_tokens", "sum_p50", "sum_p95", "code_p50", "code_p95")}
    repo_tokens = 0
    for run in range(runs):
        cache = ContextOptions(tmp / f"cache-{repo.name}-{run}")
        select_context(repo, tasks[0], [], CODE_BUDGET, cache)  # the cold index, not timed
        for mode, budget in (("summary", SUMMARY_BUDGET), ("code", CODE_BUDGET)):
            times, tokens = [], []
            for task in tasks:
                t = time.perf_counter()
                sel = select_context(repo, task, [], budget, cache, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
                tokens.append(sel.total_tokens)
                repo_tokens = sel.repo_tokens
            times.sort()
            key = "sum" if mode == "summary" else "code"
            out[f"{key}_p50"].append(statistics.median(times))
            out[f"{key}_p95"].append(times[max(0, int(len(times) * 0.95) - 1)])
            out[f"{key}_tokens"].append(statistics.mean(tokens))
        close_indexes()
    out["repo_tokens"] = [float(repo_tokens)]
    return out


def report(name: str, tasks: int, m: dict[str, list[float]]) -> None:
    whole = m["repo_tokens"][0]
    summary, code = statistics.median(m["sum_tokens"]), statistics.median(m["code_tokens"])
    print(f"{name}: {tasks} design tasks; whole repository {whole:,.0f} tokens")
    print(f"  tokens sent (mean over tasks): summary {summary:,.0f}  code {code:,.0f} (budget {CODE_BUDGET:,})  "
          f"summary / code {summary / code:.2f} ({1 - summary / code:.0%} fewer)  summary / whole {summary / whole:.4f}")
    for key, label in (("sum", "summary"), ("code", "code")):
        p50, p95 = m[f"{key}_p50"], m[f"{key}_p95"]
        print(f"  {label:8s} warm selection p50 min {min(p50):7.1f} / median {statistics.median(p50):7.1f} ms   "
              f"p95 min {min(p95):7.1f} / median {statistics.median(p95):7.1f} ms")
    ratio = statistics.median(m["sum_p95"]) / statistics.median(m["code_p95"])
    print(f"  summary p95 / code p95 (medians): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    count_tokens("warm the tokenizer")
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="pwm-summary-") as tmp:
        report("this repository", len(OWN_TASKS), measure(REPO, OWN_TASKS, args.runs, Path(tmp)))
        loads.append(os.getloadavg()[0])
        big = speed_repo(Path(tmp), args.files)
        tasks = big_tasks(big)
        report(f"{args.files} real Python files", len(tasks), measure(big, tasks, args.runs, Path(tmp)))
        loads.append(os.getloadavg()[0])
    print(f"{args.runs} runs; load average (1 min) {min(loads):.1f}..{max(loads):.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
