"""The routing benchmark's APGR (bench/routing_eval/apgr.py) measures what RouteLLM defines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.routing_eval.apgr import (
    EXCLUDED_OWNERS,
    LATER,
    MTBENCH,
    VICUNA,
    apgr,
    choosing_parts,
    load,
    load_alpaca,
    load_mtbench,
    load_vicuna,
    routellm_apgr,
)

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


def test_a_judge_score_quality_orders_like_right_and_wrong_when_the_scores_are_zero_or_one() -> None:
    scores = [float(i % 3) for i in range(len(STRONG))]
    as_scores = apgr(scores, [float(s) for s in STRONG], [float(w) for w in WEAK])
    assert as_scores == apgr(scores, STRONG, WEAK)
    assert apgr(scores, [2 * float(s) for s in STRONG], [2 * float(w) for w in WEAK]) == as_scores


def test_routellms_ten_step_estimate_gives_half_for_a_constant_score_and_more_for_the_gain_order() -> None:
    strong, weak = [9.0, 7.5, 10.0, 6.0, 8.0, 9.5], [6.0, 7.5, 9.0, 7.0, 4.0, 9.0]
    assert math.isclose(routellm_apgr([1.0] * len(strong), strong, weak), 0.5)
    gain = [s - w for s, w in zip(strong, weak, strict=True)]
    assert routellm_apgr(gain, strong, weak) > 0.5 > routellm_apgr([-g for g in gain], strong, weak)


def test_the_mt_bench_set_has_both_models_judged_on_both_turns_of_all_80_questions() -> None:
    rows = [json.loads(line) for line in MTBENCH.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["question_id"] for r in rows) == list(range(81, 161))
    assert sum(r["contaminated"] for r in rows) == 8 and len(load_mtbench()) == 80
    for r in rows:
        assert r["repo"] == "lm-sys/RouteLLM" and len(r["commit"]) == 40 and len(r["question_commit"]) == 40
        for scores, mean in ((r["strong_scores"], r["strong_score"]), (r["weak_scores"], r["weak_score"])):
            assert len(scores) == 2 and all(1 <= x <= 10 for x in scores) and mean == sum(scores) / 2


def test_the_vicuna_bench_set_is_judged_outside_and_shares_no_prompt_with_mt_bench() -> None:
    rows = [json.loads(line) for line in VICUNA.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(load_vicuna()) == 78 and len({r["question_id"] for r in rows}) == 78
    assert not {r["prompt"] for r in rows} & {row.prompt for row in load_mtbench()}
    for r in rows:
        assert r["repo"] == "lm-sys/FastChat" and len(r["commit"]) == 40 and len(r["question_commit"]) == 40
        assert 1 <= r["strong_score"] <= 10 and 1 <= r["weak_score"] <= 10


def test_alpaca_evals_own_file_and_the_transcribed_lines_read_alike(tmp_path: Path) -> None:
    records = [{"instruction": "Name three rivers.", "dataset": "helpful_base", "preference": 1.0, "output_1": "..."},
               {"instruction": "Rewrite this text.", "dataset": "selfinstruct", "preference": 2.0},
               {"instruction": "Tie.", "dataset": "oasst", "preference": 1.5}]
    own = tmp_path / "annotations.json"
    own.write_text(json.dumps(records), encoding="utf-8")
    lines = tmp_path / "outcomes.jsonl"
    lines.write_text("".join(json.dumps({"prompt": r["instruction"], "split": r["dataset"], "preference": r["preference"]})
                             + "\n" for r in records), encoding="utf-8")
    assert load_alpaca(own) == load_alpaca(lines)
    first, second, tie = load_alpaca(own)
    # p = 1 prefers the strong model's answer: all of the gain; p = 2 the weak one's: a loss.
    assert (first.strong - first.weak, second.strong - second.weak, tie.strong - tie.weak) == (1.0, -1.0, 0.0)
    assert load_alpaca(tmp_path / "absent.json") == []
    # Points are chosen on one set, never with MT-Bench in view.
    parts = choosing_parts(load_alpaca(own))
    assert list(parts)[0] == "alpaca_tune" and len(parts["alpaca_tune"]) == 3
    with pytest.raises(SystemExit, match="MT-Bench"):
        choosing_parts(load_alpaca(own) + load_mtbench())
