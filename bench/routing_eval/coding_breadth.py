"""Does how much an issue asks to change order coding issues by the strong model's gain? (session 7)

Published work on SWE-bench difficulty finds the number of files and functions a fix must touch
the main driver of an agent's failure. An issue's text cannot say that number, but it can name the
places and the new pieces it asks for. This script scores four such "breadth" counts, each with
its direction fixed before any outcome was read (more breadth -> send to the strong model), and
their unweighted sum of z-scores (z over all issues, no labels), on the SWE-bench Pro outcomes of
`coding_outcomes.py`, beside `route_task`, `length` and `legacy` and random orderings in the same
run. Nothing is fitted, so there is nothing to hold out by repository; `within` (the gap-weighted
mean of per-repository APGR) is the reading that a repository's overall solve rate cannot win.

- `places`: distinct directories of named file paths plus distinct top-level names of dotted
  module paths (`user.email.getX` -> `user`) - the components named;
- `new_things`: phrases asking for a new function / method / class / endpoint / option / field /
  command / file / setting ..., or for support of something;
- `requirements`: sentences that state an obligation (should / must / needs to / has to);
- `scope`: words of breadth (all, every, each, across, multiple, several, various, throughout,
  consistent(ly)).

`requirements` read below random on both scored pairs (bench/routing_eval/README.md, session 7),
so its reverse - fewer obligation sentences, send to the strong model: a spelled-out issue needs
less from the model - became a hypothesis after the fact. `--check` tests it once on the one pair
of the data file nobody has scored, Kimi K2 -> Claude Haiku 4.5 (same issues, same weak runs:
a weak check), with the bar fixed before the run: pooled >= 0.55 and within > 0.5.

    python bench/routing_eval/coding_breadth.py           # ~15 s
    python bench/routing_eval/coding_breadth.py --check   # the reversed-requirements check
    python bench/routing_eval/coding_breadth.py --term    # the router term it suggests, against its rule

`--term` measures `route_task` with `LengthTerm.obligation_points` = TERM_POINTS (0.5: the length
term's points per doubling, not tuned) beside the shipped score, on the three pairs (pooled,
within) and on RouteLLM's GSM8K and MMLU (first set and later), and says whether the rule written
in the README before the run is met.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.routing_eval.apgr import LATER, analyzer_prior, apgr  # noqa: E402
from bench.routing_eval.apgr import load as load_routellm  # noqa: E402
from bench.routing_eval.coding_features import print_readings, random_band, readings  # noqa: E402
from bench.routing_eval.coding_outcomes import PAIRS, SCORERS, CodingOutcome, load, pair_rows  # noqa: E402
from server.analysis.analyzer import analyze  # noqa: E402
from server.analysis.prior import load_prior  # noqa: E402

_PATH = re.compile(r"(?<![\w/])((?:[\w.-]+/)+)[\w.-]+\.[a-z]{1,5}\b")
_DOTTED = re.compile(r"\b([a-z_][a-z0-9_]*)(?:\.[A-Za-z_]\w*){2,}")
_NEW_THING = re.compile(
    r"\bnew (?:\w+ )?(?:function|method|class|endpoint|route|option|flag|field|parameter|argument|command|api|"
    r"type|interface|module|file|setting|config\w*|property|attribute|hook|helper|component|handler|table|column)s?\b"
    r"|\b(?:add|adds|adding|introduce|introduces|introducing)\s+(?:a |an |the )?(?:new |support|\w+ (?:option|flag|"
    r"field|parameter|method|function|endpoint|command|setting))"
    r"|\bsupport (?:for|of)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+")
_OBLIGATION = re.compile(r"\b(?:should|must|needs? to|has to|have to|is required to)\b", re.IGNORECASE)
# The unscored pair `--check` reads, and its bar (fixed before the run).
CHECK_PAIR = ("kimi-k2-paper", "claude-haiku-4.5-uncapped")
CHECK_POOLED = 0.55
CHECK_WITHIN = 0.5
# The router term `--term` measures (no grid) and its rule (README, session 7).
TERM_POINTS = 0.5
TERM_GAIN = 0.01
TERM_NO_HARM = 0.01
_SCOPE = re.compile(r"\b(?:all|every|each|across|multiple|several|various|throughout|consistent(?:ly)?)\b",
                    re.IGNORECASE)


def places(text: str) -> int:
    dirs = {m.rstrip("/").lower() for m in _PATH.findall(text)}
    modules = {m for m in _DOTTED.findall(text) if m not in {"e", "i", "www"}}
    return len(dirs | modules)


def breadth_counts(text: str) -> dict[str, float]:
    """The four counts of `text`, as log2(1 + n)."""
    counts = {
        "places": places(text),
        "new_things": len(_NEW_THING.findall(text)),
        "requirements": sum(bool(_OBLIGATION.search(s)) for s in _SENTENCE.findall(text)),
        "scope": len(_SCOPE.findall(text)),
    }
    return {name: math.log2(1 + n) for name, n in counts.items()}


def check(all_rows: list[CodingOutcome], draws: int, seed: int) -> None:
    """Fewer obligation sentences first, on CHECK_PAIR only, beside the usual baselines."""
    weak_model, strong_model = CHECK_PAIR
    rows, strong, weak, groups = pair_rows(all_rows, weak_model, strong_model)
    scored: dict[str, list[float]] = {name: [fn(r.text) for r in rows] for name, fn in SCORERS.items()}
    scored["fewer requirements"] = [-breadth_counts(r.text)["requirements"] for r in rows]
    print(f"{weak_model} -> {strong_model}: {len(rows)} issues, weak {sum(weak) / len(rows):.3f}, "
          f"strong {sum(strong) / len(rows):.3f}; bar: pooled >= {CHECK_POOLED}, within > {CHECK_WITHIN}")
    print(f"{'scorer':24} {'pooled':>8} {'within':>8} {'per-repo':>9}")
    print_readings(scored, strong, weak, groups, draws, seed, 24)
    p, w, _ = readings(scored["fewer requirements"], strong, weak, groups)
    print(f"bar {'met' if p >= CHECK_POOLED and w > CHECK_WITHIN else 'not met'}")


def term(all_rows: list[CodingOutcome], draws: int, seed: int) -> None:
    """`route_task` without and with the obligation term (as decided: the shipped prior with its
    `obligation_points` at 0 and at TERM_POINTS), on the three pairs and RouteLLM's sets."""
    shipped = load_prior()
    without = dataclasses.replace(shipped, length=dataclasses.replace(shipped.length, obligation_points=0.0))
    candidate = dataclasses.replace(shipped, length=dataclasses.replace(shipped.length, obligation_points=TERM_POINTS))

    def without_term(text: str) -> float:
        with analyzer_prior(without):
            return analyze(text).score

    def with_term(text: str) -> float:
        with analyzer_prior(candidate):
            return analyze(text).score

    ok = True
    print(f"{'pair':44} {'n':>4} {'route_task pooled / within':>27} {'+ term pooled / within':>24}  random pooled / within")
    for weak_model, strong_model in (*PAIRS, CHECK_PAIR):
        rows, strong, weak, groups = pair_rows(all_rows, weak_model, strong_model)
        before = readings([without_term(r.text) for r in rows], strong, weak, groups)
        after = readings([with_term(r.text) for r in rows], strong, weak, groups)
        band = random_band(strong, weak, groups, draws, seed)
        ok = ok and after[0] >= before[0] + TERM_GAIN and after[1] >= before[1]
        print(f"{weak_model + ' -> ' + strong_model:44} {len(rows):>4} {before[0]:>13.3f} / {before[1]:.3f} "
              f"{after[0]:>16.3f} / {after[1]:.3f}  {band[0][0]:.3f} ({band[0][1]:.3f}-{band[0][2]:.3f}) / "
              f"{band[1][0]:.3f} ({band[1][1]:.3f}-{band[1][2]:.3f})")
    outcomes = load_routellm() + load_routellm(LATER, " later")
    for source in ("gsm8k", "mmlu", "gsm8k later", "mmlu later"):
        part = [r for r in outcomes if r.source == source]
        strong_f, weak_f = [r.strong for r in part], [r.weak for r in part]
        b = apgr([without_term(r.prompt) for r in part], strong_f, weak_f)
        a = apgr([with_term(r.prompt) for r in part], strong_f, weak_f)
        ok = ok and a >= b - TERM_NO_HARM
        print(f"{source:44} {len(part):>4} {b:>27.3f} {a:>24.3f}")
    print(f"rule {'met: ship' if ok else 'not met: do not ship'} (pooled +{TERM_GAIN} and within not lower on every "
          f"pair; GSM8K / MMLU lose at most {TERM_NO_HARM})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--check", action="store_true", help="the reversed-requirements check on the unscored pair")
    parser.add_argument("--term", action="store_true", help="the obligation term in route_task, against its rule")
    args = parser.parse_args()
    all_rows = load()
    mode = check if args.check else term if args.term else None
    if mode is not None:  # one of the two single checks instead of the table
        mode(all_rows, args.draws, args.seed)
        return
    for weak_model, strong_model in PAIRS:
        rows, strong, weak, groups = pair_rows(all_rows, weak_model, strong_model)
        counts = [breadth_counts(r.text) for r in rows]
        scored: dict[str, list[float]] = {name: [fn(r.text) for r in rows] for name, fn in SCORERS.items()}
        names = list(counts[0])
        for name in names:
            scored[f"breadth:{name}"] = [c[name] for c in counts]
        stats = {n: (statistics.fmean(c[n] for c in counts), statistics.pstdev(c[n] for c in counts) or 1.0)
                 for n in names}
        scored["breadth:sum of z"] = [sum((c[n] - stats[n][0]) / stats[n][1] for n in names) for c in counts]
        print(f"\n{weak_model} -> {strong_model}: {len(rows)} issues, {len(set(groups))} repositories")
        print(f"{'scorer':24} {'pooled':>8} {'within':>8} {'per-repo':>9}")
        print_readings(scored, strong, weak, groups, args.draws, args.seed, 24)


if __name__ == "__main__":
    main()
