"""The submit tool's published schema and its conversion of the seeds' task dicts."""

from __future__ import annotations

from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.scheduler.overlay import loop_env
from tests.support.replies import reply_text
from tools.submit_parallel_tasks import TaskSpec, build_group_input

SEED_TASK = {
    "agent_type": "aria_coder_2_balanced",
    "task_description": "Fix responsive design issues on mobile",
    "priority": 6,
    "timeout_seconds": 600,
    "tags": ["bugfix", "medium", "ui"],
    "routing": {"model": "gpt_4o_mini", "cost_estimate": 0.01, "reasoning": "medium bug, ui complexity"},
    "quality_gates": {"accessibility_audit": True},
    "component": "frontend",
}


def test_seed_task_keeps_its_extra_blocks_as_context() -> None:
    spec = TaskSpec.model_validate(SEED_TASK)
    group = build_group_input(
        [spec], group_name="cost_optimized_bug_sprint", routing_strategy="cost_optimized", policy=None,
        max_concurrent=None, budget_usd=None, dry_run=False, max_tasks=10,
    )
    (task,) = group.tasks
    assert task.context == {
        "routing": SEED_TASK["routing"], "quality_gates": SEED_TASK["quality_gates"], "component": "frontend",
    }
    assert task.priority == 6 and task.timeout_s == 600 and task.tags == ("bugfix", "medium", "ui")
    assert group.request["tasks"][0]["routing"] == SEED_TASK["routing"]


def test_description_is_accepted_for_task_description_and_hints_are_routed() -> None:
    spec = TaskSpec.model_validate(
        {"agent_type": "aria_qa", "description": "Resolve payment gateway timeout issues", "severity": "critical",
         "estimated_effort": "complex"}
    )
    group = build_group_input([spec], group_name=None, routing_strategy=None, policy=None, max_concurrent=None,
                              budget_usd=None, dry_run=True, max_tasks=10)
    assert group.tasks[0].description == "Resolve payment gateway timeout issues"
    assert group.tasks[0].hints == {"severity": "critical", "estimated_effort": "complex"}


async def test_tools_are_listed_with_schemas_and_annotations(tmp_path: Path) -> None:
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1"))
    async with Client(build_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    submit = tools["submit_parallel_tasks"]
    task_schema = submit.input_schema["$defs"]["TaskSpec"]
    assert task_schema.get("additionalProperties") is True
    assert {"agent_type", "task_description", "priority", "timeout_seconds", "depends_on"} <= set(task_schema["properties"])
    status = tools["get_parallel_group_status"]
    assert status.annotations is not None and status.annotations.read_only_hint is True
    assert tools["get_task_result"].annotations.read_only_hint is True  # type: ignore[union-attr]
    cancel = tools["cancel_parallel_group"]
    assert cancel.annotations is not None and cancel.annotations.destructive_hint is True


async def test_a_dry_runs_summary_says_dry_run_once_and_after_a_name(tmp_path: Path) -> None:
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1"))
    task = {"agent_type": "tcoder", "task_description": "Fix add() in calc.py"}
    async with Client(build_server(settings)) as client:
        unnamed = await client.call_tool("submit_parallel_tasks", {"dry_run": True, "tasks": [task]})
        named = await client.call_tool("submit_parallel_tasks", {"dry_run": True, "group_name": "sprint",
                                                                 "tasks": [task]})
    assert reply_text(unnamed).startswith("Group (dry run): planned, 1 tasks"), reply_text(unnamed)
    assert reply_text(named).startswith("Group sprint (dry run): planned, 1 tasks"), reply_text(named)


async def test_the_reply_keeps_the_agent_type_as_written_and_names_the_agent_worker_label_last(tmp_path: Path) -> None:
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1"))
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("submit_parallel_tasks", {"dry_run": True, "tasks": [
            {"agent_type": "tcoder_1_quality", "task_description": "Fix add() in calc.py"}]})
    assert result.structured_content is not None, reply_text(result)
    (task,) = result.structured_content["tasks"]
    assert (task["agent_type"], task["agent_name"], task["variant"]) == ("tcoder_1_quality", "tcoder_quality_1", "quality")
