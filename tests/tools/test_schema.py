"""`compact_schema` makes a schema smaller without changing what it accepts."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tools._schema import compact_schema
from tools.route_task import RouteTaskInput, RouteTaskOutput
from tools.submit_parallel_tasks import SubmitOutput, TaskSpec

SAMPLES: list[dict[str, Any]] = [
    {"task_description": "Fix a bug"},
    {"task_description": "Fix a bug", "severity": None, "complexity": None, "agent_type": None},
    {"task_description": "Fix a bug", "severity": "critical", "complexity": 10, "files": ["a.py"]},
    {"task_description": "Fix a bug", "severity": "catastrophic"},
    {"task_description": "Fix a bug", "complexity": 11},
    {"task_description": "Fix a bug", "complexity": "high"},
    {"task_description": "Fix a bug", "urgent": "yes"},
    {"task_description": "Fix a bug", "max_cost": 0},
    {"task_description": "Fix a bug", "task_type": "security", "min_variant": "balanced"},
    {"task_description": ""},
    {"severity": "low"},
    {"task_description": "Fix a bug", "validate": True, "workspace": None, "id": "t-1"},
    {"task_description": "Fix a bug", "id": "bad id"},
]


def accepts(schema: dict[str, Any], value: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize("model", [RouteTaskInput, TaskSpec])
def test_a_compact_input_schema_accepts_exactly_what_the_full_one_accepts(model: Any) -> None:
    full = model.model_json_schema(by_alias=True)
    compact = compact_schema(full)
    assert len(json.dumps(compact)) < 0.85 * len(json.dumps(full))
    assert not [name for name, spec in compact["properties"].items() if "title" in spec]
    verdicts = [(accepts(full, s), accepts(compact, s)) for s in SAMPLES]
    assert all(a == b for a, b in verdicts), verdicts
    assert {a for a, _ in verdicts} == {True, False}  # the samples do test both ways


@pytest.mark.parametrize("model", [RouteTaskOutput, SubmitOutput])
def test_a_compact_output_schema_still_rejects_a_wrong_type(model: Any) -> None:
    compact = compact_schema(model.model_json_schema(by_alias=True), output=True)
    assert "required" not in json.dumps(compact)
    assert not accepts(compact, {"strategy": 3})
    assert accepts(compact, {"strategy": "balanced"})
