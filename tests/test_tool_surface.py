"""The published tool surface, pinned in full: every tool's name, title, annotations, description,
input schema and output schema, exactly as `tools/list` sends them, against a checked-in snapshot.

A deliberate change to a tool's surface updates the snapshot in the same commit:

    .venv/bin/python -m tests.test_tool_surface      # rewrites tests/data/tool_surface.json

and the diff of that file is the review of what clients will see.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.analysis.tokens import STATUS_TIKTOKEN, count_tokens, token_counter_status
from server.app import build_server
from server.errors import ConfigError
from server.settings import Settings, load_settings
from tests.conftest import isolated_env
from tools.surface import CORE_TOOLS

SNAPSHOT = Path(__file__).parent / "data" / "tool_surface.json"
REGENERATE = "run `.venv/bin/python -m tests.test_tool_surface` and review the diff"
READ_ONLY = {
    "route_task", "get_parallel_group_status", "validate_workspace", "get_task_result", "list_groups",
    "get_cost_report", "get_routing_insights",
}


async def published_tools(settings: Settings) -> dict[str, Any]:
    """Every tool as `tools/list` sends it (by name, JSON as on the wire)."""
    async with Client(build_server(settings)) as client:
        tools = (await client.list_tools()).tools
    return {tool.name: tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools}


async def test_every_tool_definition_matches_the_checked_in_snapshot(settings: Settings) -> None:
    tools = await published_tools(settings)
    pinned = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sorted(tools) == sorted(pinned), f"tools added or removed: {REGENERATE}"
    for name, definition in pinned.items():
        assert tools[name] == definition, f"{name}'s definition changed: {REGENERATE}"


async def test_every_tool_has_an_output_schema_and_read_only_tools_say_so(settings: Settings) -> None:
    tools = await published_tools(settings)
    for name, tool in tools.items():
        assert tool.get("outputSchema"), f"{name} has an output schema"
        assert tool["annotations"].get("readOnlyHint") is (name in READ_ONLY), name


async def tools_list_tokens(settings: Settings) -> tuple[list[str], int, int]:
    """The tools offered, and the cl100k tokens of the `tools/list` result: as the server sends it
    (compact JSON) and as `json.dumps` spaces it (the way the 11.7k of the issue were counted)."""
    async with Client(build_server(settings)) as client:
        result = await client.list_tools()
    body = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert token_counter_status() == STATUS_TIKTOKEN, "the budget is in real cl100k tokens"
    wire = count_tokens(json.dumps(body, separators=(",", ":")))
    return [tool.name for tool in result.tools], wire, count_tokens(json.dumps(body))


async def test_by_default_the_four_core_tools_are_offered_within_5k_tokens(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    del env["PWM_TOOLS"]
    names, wire, spaced = await tools_list_tokens(load_settings(env))
    assert sorted(names) == sorted(CORE_TOOLS)
    # The budget is for what is sent (compact JSON); the spaced count is kept from creeping up too.
    assert wire <= 5_000, f"tools/list costs {wire} tokens of every conversation"
    # +75 spaced for submit's wait_seconds / group_status (one call instead of two for a short group),
    # +65 for context_mode on route_task and on each submitted task (a design task's summary),
    # +30 for route_task's context_offset (a large selection is listed a page at a time).
    assert spaced <= 5_420, f"tools/list, spaced out, costs {spaced} tokens"


async def test_every_tool_together_stays_within_7500_tokens(settings: Settings) -> None:
    names, wire, spaced = await tools_list_tokens(settings)
    assert len(names) == 13
    # 6k / 7.5k for the eleven tools before the workflows; plan_milestone and continue_task add ~600,
    # submit's wait_seconds / group_status ~75, context_mode ~50 wire / ~65 spaced, route_task's
    # context_offset ~20 / ~30, continue_task's next_step (a slow follow-up's running reply) ~12 / ~15,
    # reset_routing_insights' cleared_misconfigured ~20 / ~26, the paging of get_cost_report and
    # get_routing_insights (offset, limit; list_totals, next_offset) ~165 / ~220.
    assert wire <= 6_570 and spaced <= 8_540, (wire, spaced)


async def test_pwm_tools_adds_named_tools_to_the_core_ones_and_rejects_unknown_names(tmp_path: Path) -> None:
    names, _, _ = await tools_list_tokens(
        load_settings(isolated_env(tmp_path, PWM_TOOLS="list_groups, get_task_result"))
    )
    assert sorted(names) == sorted([*CORE_TOOLS, "list_groups", "get_task_result"])
    with pytest.raises(ConfigError, match="unknown tool 'list_group'.*accepted: core, all, submit_parallel_tasks"):
        build_server(load_settings(isolated_env(tmp_path, PWM_TOOLS="list_group")))


def _regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tools = asyncio.run(published_tools(load_settings(isolated_env(Path(tmp)))))
    SNAPSHOT.write_text(json.dumps(tools, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT} ({len(tools)} tools)", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()
