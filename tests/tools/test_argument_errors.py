"""Arguments of the wrong type read like every other input error: the field, the problem and the
accepted values, without pydantic's raw text or its links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings, load_settings
from tests.conftest import isolated_env
from tests.support.replies import reply_text


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("route_task", {"task_description": "Fix a bug", "urgent": "very"}, "urgent: Input should be a valid boolean"),
        ("route_task", {"task_description": "Fix a bug", "complexity": "high"}, "complexity: "),
        ("route_task", {"task_description": "Fix a bug", "colour": "red"},
         "colour: unknown argument (accepted: urgent, time_sensitive,"),
        ("route_task", {"task_description": "Fix a bug", "strategy": "speed_first"},
         "strategy: unknown argument (did you mean routing_strategy?)"),
        ("submit_parallel_tasks", {"tasks": [{"task_description": "x"}], "strategy": "quality_first"},
         "strategy: unknown argument (did you mean routing_strategy?)"),
        ("get_parallel_group_status", {"group_id": "g", "wait": 5}, "wait: unknown argument (did you mean wait_seconds?)"),
        ("route_task", {"task_description": "Fix a bug", "budget_mode": "cheap"},
         "(accepted: 'normal', 'local_only' or 'free_only')"),
        ("submit_parallel_tasks", {"tasks": "write a parser"}, "tasks: Input should be a valid list (accepted: a list)"),
        ("submit_parallel_tasks", {"tasks": [{"task_description": "x", "priority": 11}]},
         "tasks.0.priority: Input should be less than or equal to 10 (accepted: <= 10)"),
        ("get_parallel_group_status", {"group_id": "g", "wait_seconds": "soon"}, "wait_seconds: "),
        ("submit_parallel_tasks", {"tasks": [{"task_description": "x", "validate": {"chekcs": ["test"]}}]},
         "tasks[0].validate.chekcs: is not a validate option (did you mean 'checks'?) (accepted: checks, max_rounds,"),
        ("route_task", {"task_description": "Fix a bug", "validate": {"rounds": 2}},
         "validate.rounds: is not a validate option (did you mean 'max_rounds'?)"),
    ],
)
async def test_a_wrong_argument_names_the_field_the_problem_and_what_is_accepted(
    settings: Settings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error is True
    assert expected in text, text
    assert "pydantic.dev" not in text and "validation error for" not in text and "input_value" not in text


def test_a_lone_check_name_is_a_list_of_one_and_a_comma_list_is_split() -> None:
    from tools.submit_parallel_tasks import _caller_validate

    assert _caller_validate({"checks": "test"}, 0) == {"checks": ["test"]}
    assert _caller_validate({"checks": "test, lint", "max_rounds": 2}, 0) == {"checks": ["test", "lint"], "max_rounds": 2}
    assert _caller_validate(True, 0) is True


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_parallel_group_status", {"group_name": "current_project"},
         "group_name: no group with id or name 'current_project' (list_groups lists recent groups with their ids"),
        ("cancel_parallel_group", {"group_id": "nope"}, "group_id: no group with id or name 'nope' (list_groups lists"),
        ("continue_task", {"task_id": "nope", "message": "and now the tests"},
         "task_id: no task with id 'nope' (task ids are each task's task_id in the reply of get_parallel_group_status"),
        ("get_task_result", {"task_id": "nope"}, "task_id: no task with id 'nope' (task ids are"),
        ("apply_validated_patch", {"task_id": "nope"}, "task_id: no task with id 'nope' (task ids are"),
    ],
)
async def test_an_unknown_id_names_its_argument_and_where_valid_ones_are_found(
    settings: Settings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert expected in reply_text(result), reply_text(result)


async def test_without_list_groups_an_unknown_group_points_at_the_submit_reply_and_pwm_tools(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    del env["PWM_TOOLS"]  # the four core tools: list_groups is not offered
    async with Client(build_server(load_settings(env))) as client:
        result = await client.call_tool("get_parallel_group_status", {"group_id": "abc123"})
    assert "group_id: no group with id or name 'abc123' (the group_id is in submit_parallel_tasks' reply; list_groups " \
           "(offered with PWM_TOOLS=list_groups or all)" in reply_text(result), reply_text(result)
