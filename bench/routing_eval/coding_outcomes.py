"""APGR of the router's score on recorded outcomes of real coding issues (SWE-bench Pro, public set).

Data: bench/data/coding_outcomes.jsonl - one issue per line: the SWE-bench Pro instance id, its
GitHub repository and base commit, the issue text (`problem_statement`, the issue part of what the
agent was given; the benchmark's extra "Requirements" and "New interfaces" sections are left out),
and per model whether that model's SWE-agent run resolved the issue. Both the text and the
outcomes were written outside this project; every line says where each came from (repo, path,
commit). These are not SWE-bench Verified issues (Verified ids look like `django__django-12345`,
Pro ids like `instance_flipt-io__flipt-<sha>`; `load` refuses the former), and nothing in
server/ is fitted to them: this file only measures.

Per model pair (a cheaper model, a stronger one) the prompts are ordered by each scorer and the
top share `c` goes to the strong model: APGR as in bench/routing_eval/apgr.py (imported, not
copied). Scorers, all in the same run on the same issues:

- `route_task`: `server.analysis.analyzer.analyze(text).score`, the one-decimal score route_task
  returns as `complexity_score`, text alone (the judges' setting; the data names no files);
- `rt_tier`: the same rounded to the integer tier the strategies cut at;
- `length`: the issue text's length in characters;
- `legacy`: the hand-set analyzer at commit facf8dd (bench/routing_eval/legacy);
- `random`: mean and 5th-95th percentile over seeded random orderings (the noise floor);
- `oracle`: issues only the strong model solves first (the ceiling).

Split by source: all issues, per language and per repository (small groups: read the pooled row).

`cascade` adds the issue's other figure: "run the cheap model, check, escalate to the strong one
when the check fails" against strong-only, counting a failed check as a full cheap attempt. The
per-issue price ratio cheap/strong is an assumption printed with the result (the data records
outcomes, not spend).

    python bench/routing_eval/coding_outcomes.py           # table
    python bench/routing_eval/coding_outcomes.py --json    # the same figures as JSON
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.apgr import RANDOM_DRAWS, scorer_figures  # noqa: E402
from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from server.analysis.analyzer import analyze  # noqa: E402

DATA = REPO / "bench" / "data" / "coding_outcomes.jsonl"
# (cheaper, stronger): Kimi K2 with SWE-agent capped at 50 turns (the SWE-bench Pro paper's
# setting) against Claude Sonnet 4 and against Claude Sonnet 4.5, both with SWE-agent uncapped
# (Scale's 2025-10-13 runs). The file also records Claude Haiku 4.5 (uncapped, 2025-10-22), but
# Sonnet 4.5 solves barely more than Haiku 4.5 on these issues, so that pair is not scored.
PAIRS: tuple[tuple[str, str], ...] = (
    ("kimi-k2-paper", "claude-sonnet-4-uncapped"),
    ("kimi-k2-paper", "claude-sonnet-4.5-uncapped"),
)
# Per-issue cost of the cheap run relative to the strong run, for the cascade figure only:
# list prices per million tokens, Kimi K2 $0.60 in / $2.50 out vs Claude Sonnet 4 and 4.5 $3 / $15
# (0.17-0.20), and the capped run stops sooner, so the real ratio is likely lower.
PRICE_RATIOS = (0.1, 0.2, 0.33)
LANGUAGE = {
    "ansible/ansible": "python", "internetarchive/openlibrary": "python", "qutebrowser/qutebrowser": "python",
    "flipt-io/flipt": "go", "gravitational/teleport": "go", "future-architect/vuls": "go",
    "navidrome/navidrome": "go", "protonmail/webclients": "typescript", "element-hq/element-web": "typescript",
    "tutao/tutanota": "typescript", "NodeBB/NodeBB": "javascript",
}
_SWE_BENCH_ID = re.compile(r"^[\w.-]+__[\w.-]+-\d+$")


@dataclass(frozen=True)
class CodingOutcome:
    instance_id: str
    repo: str
    text: str
    resolved: dict[str, bool | None]  # model -> resolved; None: that model has no recorded run


def load(path: Path = DATA) -> list[CodingOutcome]:
    rows: list[CodingOutcome] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        iid = str(row["instance_id"])
        if _SWE_BENCH_ID.match(iid):
            raise SystemExit(f"{path}:{number}: {iid} looks like a SWE-bench id; SWE-bench Verified is never used here")
        if iid in seen:
            raise SystemExit(f"{path}:{number}: {iid} appears twice")
        seen.add(iid)
        text = str(row["problem_statement"]).strip()
        if not text:
            raise SystemExit(f"{path}:{number}: {iid} has no problem statement")
        resolved = {str(model): (None if value is None else bool(value)) for model, value in row["outcomes"].items()}
        rows.append(CodingOutcome(iid, str(row["repo"]), text, resolved))
    return rows


def legacy_score(text: str) -> float:
    return float(legacy_analyze(text).complexity)


SCORERS: dict[str, Callable[[str], float]] = {
    "route_task": lambda text: analyze(text).score,
    "rt_tier": lambda text: float(analyze(text).complexity),
    "length": lambda text: float(len(text)),
    "legacy": legacy_score,
}


def groups_of(rows: Sequence[CodingOutcome]) -> dict[str, list[int]]:
    """Row indices per source: all, per language, per repository (in that order)."""
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    by_language: dict[str, list[int]] = defaultdict(list)
    by_repo: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_language[f"lang:{LANGUAGE.get(row.repo, 'other')}"].append(i)
        by_repo[f"repo:{row.repo}"].append(i)
    groups.update(sorted(by_language.items()))
    groups.update(sorted(by_repo.items()))
    return groups


def cascade(strong: Sequence[bool], weak: Sequence[bool], price_ratio: float) -> dict[str, float]:
    """Cheap first, strong only where the cheap result fails its check, against strong-only.

    Cost in strong-run units: every issue pays one cheap run, failed ones also a strong run.
    """
    n = len(strong)
    if n == 0:
        raise ValueError("no issues")
    escalated = sum(1 for w in weak if not w)
    solved = sum(1 for s, w in zip(strong, weak, strict=True) if w or s)
    return {
        "cost_vs_strong": round((n * price_ratio + escalated) / n, 3),
        "solved": solved, "strong_solved": sum(strong), "weak_solved": sum(weak),
        "extra_solved_points": round(100.0 * (solved - sum(strong)) / n, 1),
    }


def pair_rows(rows: Sequence[CodingOutcome], weak_model: str, strong_model: str
              ) -> tuple[list[CodingOutcome], list[bool], list[bool], list[str]]:
    """The issues both models of a pair were run on: the rows, the strong and weak outcomes, the
    repositories."""
    both = [r for r in rows if r.resolved.get(weak_model) is not None and r.resolved.get(strong_model) is not None]
    return (both, [bool(r.resolved[strong_model]) for r in both], [bool(r.resolved[weak_model]) for r in both],
            [r.repo for r in both])


def evaluate(rows: Sequence[CodingOutcome], seed: int, draws: int = RANDOM_DRAWS) -> list[dict[str, object]]:
    scored = {name: [fn(row.text) for row in rows] for name, fn in SCORERS.items()}
    report: list[dict[str, object]] = []
    for weak_model, strong_model in PAIRS:
        usable = [i for i, row in enumerate(rows)
                  if row.resolved.get(weak_model) is not None and row.resolved.get(strong_model) is not None]
        subset = [rows[i] for i in usable]
        for group, local in groups_of(subset).items():
            idx = [usable[j] for j in local]
            strong = [bool(rows[i].resolved[strong_model]) for i in idx]
            weak = [bool(rows[i].resolved[weak_model]) for i in idx]
            entry: dict[str, object] = {
                "pair": f"{weak_model} -> {strong_model}", "group": group, "n": len(idx),
                "weak_acc": round(sum(weak) / len(idx), 3), "strong_acc": round(sum(strong) / len(idx), 3),
            }
            entry.update(scorer_figures(scored, idx, strong, weak, seed, draws))
            if group == "all":
                entry["cascade"] = {str(r): cascade(strong, weak, r) for r in PRICE_RATIOS}
            report.append(entry)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = load()
    report = evaluate(rows, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    names = [*SCORERS, "random", "oracle"]
    pair = None
    for e in report:
        if e["pair"] != pair:
            pair = e["pair"]
            print(f"\n{pair}   (APGR; random p5-p95 is the noise floor at that n)")
            print(f"{'group':38} {'n':>4} {'weak':>6} {'strong':>6} " + " ".join(f"{n:>10}" for n in names)
                  + "  random p5-p95")
        spread = e["random_p5_p95"]
        assert isinstance(spread, list)
        print(f"{e['group']:38} {e['n']:>4} {e['weak_acc']:>6.3f} {e['strong_acc']:>6.3f} "
              + " ".join(f"{e[n]:>10.3f}" for n in names) + f"  {spread[0]:.3f}-{spread[1]:.3f}")
        if "cascade" in e:
            cascades = e["cascade"]
            assert isinstance(cascades, dict)
            for ratio, c in cascades.items():
                print(f"{'':38} cheap-first cascade at price ratio {ratio}: {c['cost_vs_strong']:.0%} of "
                      f"strong-only cost, {c['extra_solved_points']:+.1f} points solved "
                      f"({c['solved']} vs {c['strong_solved']})")
    print(f"\n({time.perf_counter() - started:.1f}s, {len(rows)} issues, {RANDOM_DRAWS} random orderings, "
          f"seed {args.seed})")


if __name__ == "__main__":
    main()
