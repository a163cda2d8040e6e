"""Validating a drafted milestone plan beyond its shape: commands are project tools run without
a shell, files stay inside the repository, and each item's check becomes its task's spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.workflows import PlanProblem
from server.workflows.milestone import MilestoneRequest, checklist_group, item_spec, validate_plan


def _plan(*items: dict[str, object]) -> str:
    return "```json\n" + json.dumps({"items": list(items)}) + "\n```"


REQUEST = MilestoneRequest(milestone="m", workspace=Path("/repo"))


def test_a_shell_or_inline_code_as_command_is_rejected_naming_the_item() -> None:
    text = _plan({"id": "a", "title": "A", "check": {"command": "sh -c 'rm -rf /'"}},
                 {"id": "b", "title": "B", "check": {"command": ["python", "-c", "print(1)"]}},
                 {"id": "c", "title": "C", "check": {"files": ["../outside.py"]}})
    with pytest.raises(PlanProblem) as raised:
        validate_plan(text, REQUEST)
    problems = raised.value.problems
    assert len(problems) == 3
    assert "'a'" in problems[0] and "'b'" in problems[1] and "inside the repository" in problems[2]


def test_a_cycle_is_reported_as_a_problem() -> None:
    text = _plan({"id": "a", "title": "A", "depends_on": ["b"], "check": {"files": ["a.py"]}},
                 {"id": "b", "title": "B", "depends_on": ["a"], "check": {"files": ["b.py"]}})
    with pytest.raises(PlanProblem, match="cycle"):
        validate_plan(text, REQUEST)


def test_a_named_test_file_not_yet_there_must_be_added_by_the_items_patch(tmp_path: Path) -> None:
    (tmp_path / "test_old.py").write_text("")
    checklist = validate_plan(_plan({"id": "a", "title": "A", "check": {
        "tests": ["test_old.py", "test_new.py::test_x", "the slug tests"]}}), REQUEST)
    assert item_spec(checklist.items[0], tmp_path, 60.0)["must_change"] == ["test_new.py"]


def test_each_items_check_becomes_its_tasks_validation_spec_in_dependency_order() -> None:
    checklist = validate_plan(_plan(
        {"id": "docs", "title": "Docs", "depends_on": ["code"], "check": {"files": ["README.md"]}},
        {"id": "code", "title": "Code", "check": {"tests": ["test_x.py"], "command": "ruff check ."}},
    ), REQUEST)
    group = checklist_group(checklist, REQUEST)
    assert [t.key for t in group.tasks] == ["code", "docs"]
    code, docs = group.tasks
    assert code.validate == {"workspace": "/repo", "checks": ["test"], "max_rounds": 3, "timeout_s": 300.0,
                             "test_scope": "new", "required_tests": ["test_x.py"],
                             "must_change": ["test_x.py"], "command": ["ruff", "check", "."]}
    assert docs.depends_on == ("code",) and docs.validate is not None
    assert docs.validate["must_change"] == ["README.md"] and docs.validate["checks"] == ["syntax"]
    assert item_spec(checklist.items[0], Path("/repo"), 60.0)["timeout_s"] == 60.0
    assert "Done when: the files README.md change" in docs.description
