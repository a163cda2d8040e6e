"""The routing benchmark's APGR (bench/routing_eval/apgr.py) measures what RouteLLM defines."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.routing_eval.apgr import EXCLUDED_OWNERS, LATER, apgr, load

REPO = Path(__file__).resolve().parents[2]
STRONG = [True, True, False, True, True, False, True, True]
WEAK = [False, True, False, False, True, True, False, True]


def test_a_score_that_says_nothing_recovers_half_the_gap() -> None:
    assert apgr([3.0] * len(STRONG), STRONG, WEAK) == 0.5


def test_sending_the_prompts_only_the_strong_model_solves_first_beats_any_other_order() -> None:
    gain = [float(s) - float(w) for s, w in zip(STRONG, WEAK, strict=True)]
    best = apgr(gain, STRONG, WEAK)
    assert best > apgr(list(range(len(STRONG))), STRONG, WEAK)
    assert best > 0.5 > apgr([-g for g in gain], STRONG, WEAK)


def test_prompts_where_the_strong_model_is_no_better_have_no_apgr() -> None:
    assert math.isnan(apgr([1.0, 2.0], [True, False], [True, False]))


def test_the_outcomes_are_externally_labelled_and_say_where_each_came_from() -> None:
    rows = load()
    assert {row.source for row in rows} == {"gsm8k", "mmlu"} and len(rows) >= 300
    lines = (REPO / "bench" / "data" / "routellm_outcomes.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        row = json.loads(line)
        assert row["repo"] == "lm-sys/RouteLLM" and len(row["commit"]) == 40 and row["path"].startswith("routellm/")
        assert row["repo"].split("/")[0] not in EXCLUDED_OWNERS


def test_the_later_outcomes_share_no_prompt_with_the_ones_the_length_term_was_chosen_on() -> None:
    first, later = load(), load(LATER, " later")
    assert {row.source for row in later} == {"gsm8k later", "mmlu later"} and len(later) >= 200
    assert not {row.prompt for row in first} & {row.prompt for row in later}
    for line in LATER.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["repo"] == "lm-sys/RouteLLM" and len(row["commit"]) == 40 and row["path"].startswith("routellm/")
