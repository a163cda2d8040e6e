"""The published tool surface, pinned: names, read-only annotations and required arguments."""

from __future__ import annotations

from mcp import Client

from server.app import build_server
from server.settings import Settings

PINNED = {
    "submit_parallel_tasks": ["tasks"],
    "get_parallel_group_status": [],
    "get_task_result": ["task_id"],
    "cancel_parallel_group": [],
    "route_task": ["task_description"],
    "validate_workspace": ["path"],
    "apply_validated_patch": ["task_id"],
    "get_cost_report": [],
    "get_routing_insights": [],
    "reset_routing_insights": [],
}
READ_ONLY = {"route_task", "get_parallel_group_status", "validate_workspace", "get_task_result"}


async def test_tool_names_required_arguments_and_read_only_hints_are_pinned(settings: Settings) -> None:
    async with Client(build_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == set(PINNED)
    for name, required in PINNED.items():
        assert sorted(tools[name].input_schema.get("required", [])) == sorted(required), name
        assert tools[name].output_schema is not None, f"{name} has an output schema"
    for name in READ_ONLY:
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint, name
