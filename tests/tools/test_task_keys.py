"""A task's unknown keys over MCP: a slip for a field is refused like an unknown argument, naming
`tasks[i].<key>` and the field meant; any other key is kept and named in the reply's warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.scheduler.overlay import loop_env
from tests.support.replies import reply_text

TASK = {"agent_type": "tcoder", "task_description": "Fix add() in calc.py so the tests pass"}


async def _submit(tmp_path: Path, tasks: list[dict[str, Any]]) -> tuple[bool, str, dict[str, Any] | None]:
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1", PWM_ALLOWED_ROOTS=str(tmp_path)))
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("submit_parallel_tasks", {"dry_run": True, "tasks": tasks})
    return result.is_error, reply_text(result), result.structured_content


async def test_misspelt_task_keys_are_refused_naming_each_and_the_field_meant(tmp_path: Path) -> None:
    is_error, text, _ = await _submit(tmp_path, [
        {**TASK, "id": "a"},
        {**TASK, "id": "b", "dependson": ["a"], "workspce": str(tmp_path), "timeout": 5, "validat": {"checks": ["test"]}},
    ])
    assert is_error, text
    for slip, field in (("dependson", "depends_on"), ("workspce", "workspace"), ("timeout", "timeout_seconds"),
                        ("validat", "validate")):
        assert f"tasks[1].{slip}: unknown task field (did you mean {field}?)" in text, text


async def test_the_seeds_blocks_are_kept_and_named_once_in_the_warnings(tmp_path: Path) -> None:
    seed = {**TASK, "priority": 9, "timeout_seconds": 300, "tags": ["ecommerce"], "estimated_cost": 0.01,
            "model_routing": {"recommended_model": "cerebras_llama3_1_8b", "complexity_score": 2},
            "routing": {"model": "gpt_4o_mini"}, "quality_gates": {"security_review": False}, "model": "gpt_4o_mini"}
    is_error, text, data = await _submit(tmp_path, [{**seed, "id": "a"}, {**seed, "id": "b"}])
    assert not is_error, text
    assert data is not None and data["task_count"] == 2
    (warning,) = [w for w in data["warnings"] if w.startswith("Kept with the tasks")]
    for key in ("estimated_cost", "model_routing", "routing", "quality_gates", "model"):
        assert f"{key} (2 tasks)" in warning, warning
    assert warning in text  # the summary Claude Desktop's model reads says it too


async def test_a_task_without_extra_keys_gets_no_such_warning(tmp_path: Path) -> None:
    is_error, text, data = await _submit(tmp_path, [TASK])
    assert not is_error and data is not None, text
    assert data["warnings"] == []


def test_the_kept_keys_warning_stays_one_short_line_whatever_the_keys() -> None:
    from tools._task_keys import kept_keys_warning

    keys = [f"block_{i}_" + "x" * 500 for i in range(30)]
    warning = kept_keys_warning([keys, keys[:3]])
    assert warning is not None and len(warning) < 700 and warning.endswith("and 20 more.")
    assert "(2 tasks)" in warning and "..." in warning
