"""The coding-outcomes benchmark (bench/routing_eval/coding_outcomes.py) reads public, externally
labelled SWE-bench Pro outcomes and measures them with the shared APGR."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bench.routing_eval.apgr import apgr
from bench.routing_eval.coding_outcomes import DATA, PAIRS, CodingOutcome, cascade, evaluate, groups_of, load

SHA = re.compile(r"[0-9a-f]{40}")


def test_every_issue_says_where_its_text_and_its_outcomes_came_from() -> None:
    lines = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 50
    for row in lines:
        assert row["instance_id"].startswith("instance_") and SHA.fullmatch(row["base_commit"])
        for source in (row["text_source"], row["outcome_source"]):
            assert "/" in source["repo"] and source["path"] and SHA.fullmatch(source["commit"])
        assert set(row["outcomes"]) >= {model for pair in PAIRS for model in pair}


@pytest.mark.parametrize("pair", PAIRS)
def test_the_loaded_issues_have_text_and_both_models_outcomes_for_most_of_them(pair: tuple[str, str]) -> None:
    rows = load()
    weak, strong = pair
    both = [r for r in rows if r.resolved[weak] is not None and r.resolved[strong] is not None]
    assert len(both) >= 0.7 * len(rows)
    assert all(len(r.text) > 40 for r in rows)
    # the strong model must actually be stronger here, or APGR says nothing
    assert sum(bool(r.resolved[strong]) for r in both) > sum(bool(r.resolved[weak]) for r in both)


# The figures' code on a slice of the issues with few random orderings: the whole set is the bench's job.
SLICE, DRAWS = 200, 40


def test_every_pair_is_reported_with_its_pooled_row() -> None:
    report = evaluate(load()[:SLICE], seed=3, draws=DRAWS)
    pooled = {e["pair"] for e in report if e["group"] == "all"}
    assert pooled == {f"{weak} -> {strong}" for weak, strong in PAIRS}


def test_an_issue_id_in_swe_bench_form_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.jsonl"
    row = {"instance_id": "django__django-11099", "repo": "django/django", "problem_statement": "x",
           "outcomes": {"a": True}}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="SWE-bench"):
        load(path)


def test_cheap_first_costs_one_cheap_run_per_issue_plus_a_strong_run_per_failed_check() -> None:
    strong = [True, True, False, True]
    weak = [True, False, False, False]
    result = cascade(strong, weak, price_ratio=0.25)
    assert result["cost_vs_strong"] == pytest.approx((4 * 0.25 + 3) / 4)
    assert (result["solved"], result["strong_solved"], result["weak_solved"]) == (3, 3, 1)


def test_groups_split_by_language_and_repository_and_cover_every_issue() -> None:
    rows = [CodingOutcome("a", "flipt-io/flipt", "t", {}), CodingOutcome("b", "ansible/ansible", "t", {}),
            CodingOutcome("c", "flipt-io/flipt", "t", {})]
    groups = groups_of(rows)
    assert groups["all"] == [0, 1, 2]
    assert groups["lang:go"] == [0, 2] and groups["lang:python"] == [1]
    assert groups["repo:flipt-io/flipt"] == [0, 2]


def test_the_report_uses_the_shared_apgr_and_its_oracle_is_the_ceiling() -> None:
    rows = load()[:SLICE]
    report = evaluate(rows, seed=3, draws=DRAWS)
    weak, strong = PAIRS[0]
    pooled = next(e for e in report if e["group"] == "all" and e["pair"] == f"{weak} -> {strong}")
    assert isinstance(pooled["oracle"], float) and isinstance(pooled["length"], float)
    others = [score for name in ("route_task", "length", "legacy") if isinstance(score := pooled[name], float)]
    assert len(others) == 3 and pooled["oracle"] >= max(others)
    both = [r for r in rows if r.resolved[weak] is not None and r.resolved[strong] is not None]
    lengths = [float(len(r.text)) for r in both]
    expected = apgr(lengths, [bool(r.resolved[strong]) for r in both], [bool(r.resolved[weak]) for r in both])
    assert math.isclose(float(pooled["length"]), round(expected, 3))
