"""A planner's checklist is validated before anyone sees it."""

from __future__ import annotations

import json

import pytest

from server.workflows import PlanProblem, parse_checklist


def plan(*items: dict[str, object]) -> str:
    return "Here is the plan:\n```json\n" + json.dumps({"items": list(items)}) + "\n```"


def item(item_id: str, *deps: str, check: dict[str, object] | None = None, size: str = "small") -> dict[str, object]:
    return {"id": item_id, "title": f"do {item_id}", "depends_on": list(deps), "size": size,
            "check": {"tests": [f"tests/test_{item_id}.py"]} if check is None else check}


def test_a_valid_plan_parses_in_dependency_order() -> None:
    checklist = parse_checklist(plan(item("b", "a"), item("a"), item("c", "a", "b")))
    assert checklist.order == ("a", "b", "c")
    assert checklist.items[0].check.tests == ("tests/test_b.py",)


def test_every_problem_of_a_bad_plan_is_reported_at_once() -> None:
    with pytest.raises(PlanProblem) as err:
        parse_checklist(plan(item("a"), item("a"), item("b", "ghost"), item("c", check={}), item("d", size="huge")))
    problems = " | ".join(err.value.problems)
    assert "'a' appears twice" in problems
    assert "depends on 'ghost'" in problems
    assert "'c' has no check" in problems
    assert "'d' is 'huge'" in problems


def test_a_cycle_is_named() -> None:
    with pytest.raises(PlanProblem, match="cycle"):
        parse_checklist(plan(item("a", "b"), item("b", "a")))


def test_an_answer_without_json_asks_for_it() -> None:
    with pytest.raises(PlanProblem, match="no JSON"):
        parse_checklist("I would start by reading the code.")


def test_too_many_items_ask_to_merge_steps() -> None:
    with pytest.raises(PlanProblem, match="more than the 2 allowed"):
        parse_checklist(plan(item("a"), item("b"), item("c")), max_items=2)
