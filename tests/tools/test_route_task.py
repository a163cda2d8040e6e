"""`route_task` through an in-process MCP client session, over the shipped catalogue."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.catalog import load_catalog
from server.settings import Settings

STRIPE = {
    "task_description": "Implement payment integration with Stripe API",
    "agent_type": "aria_coder_api",
    "urgent": True,
    "routing_strategy": "speed_first",
}


async def call(settings: Settings, *argument_sets: dict[str, Any]) -> list[Any]:
    results = []
    async with Client(build_server(settings)) as client:
        for arguments in argument_sets:
            results.append(await client.call_tool("route_task", arguments))
    return results


async def test_route_task_is_listed_read_only_with_input_and_output_schemas(settings: Settings) -> None:
    async with Client(build_server(settings)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    tool = tools["route_task"]
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert tool.annotations.destructive_hint is False
    properties = tool.input_schema["properties"]
    assert tool.input_schema["required"] == ["task_description"]
    assert properties["task_description"]["minLength"] == 1
    assert properties["complexity"]["maximum"] == 10
    # The shared hints are explained once, in the schema's description, not on every property.
    explained = ["estimated_effort", "context_tokens", "complexity", "task_type", "budget_mode", "min_variant",
                 "max_cost"]
    assert all(name in tool.input_schema["description"] and name in properties for name in explained)
    assert not any(properties[name].get("description") for name in explained)
    assert tool.output_schema is not None
    assert {"complexity_score", "recommended_variant", "agent_name", "recommended_model", "estimated_cost"} <= set(
        tool.output_schema["properties"]
    )


async def test_route_task_returns_a_structured_plan(settings: Settings) -> None:
    (result,) = await call(settings, STRIPE)
    assert result.is_error is False
    plan = result.structured_content
    catalog = load_catalog()
    assert plan["task_type"] == "integration"
    assert plan["complexity_score"] >= 7
    assert "payment" in plan["risks"]
    assert plan["recommended_variant"] == "quality"
    assert plan["agent_name"] == "aria_coder_api_quality"
    assert plan["recommended_model"] == catalog.agents["aria_coder_api"].variants["quality"][0]
    assert plan["recommended_model"] not in plan["fallback_models"]
    assert plan["estimated_cost"] > 0 and plan["estimated_time"] > 0
    assert plan["estimated_input_tokens"] > 0 and plan["estimated_output_tokens"] > 0
    assert plan["token_counter"] == "tiktoken:cl100k_base"
    assert plan["rationale"].startswith("speed_first:") and "\n" not in plan["rationale"]


async def test_simple_urgent_work_goes_to_the_speed_variant(settings: Settings) -> None:
    (result,) = await call(
        settings,
        {"task_description": "Build responsive product catalog interface", "agent_type": "aria_coder_frontend",
         "time_sensitive": True, "routing_strategy": "speed_first"},
    )
    assert result.structured_content["agent_name"] == "aria_coder_frontend_speed"


async def test_local_only_recommends_only_local_models(settings: Settings) -> None:
    (result,) = await call(settings, {**STRIPE, "budget_mode": "local_only"})
    plan = result.structured_content
    catalog = load_catalog()
    assert catalog.models[plan["recommended_model"]].tier == "local"
    assert all(catalog.models[m].tier == "local" for m in plan["fallback_models"])
    assert plan["estimated_cost"] == 0.0
    assert any("local_only" in reason for reason in plan["excluded_models"].values())


async def test_joined_descriptions_come_back_with_subtasks(settings: Settings) -> None:
    (result,) = await call(settings, {"task_description": "Add auth middleware and implement caching"})
    assert result.structured_content["subtasks"] == ["Add auth middleware", "implement caching"]


async def test_explicit_hints_win(settings: Settings) -> None:
    (pinned, complexity) = await call(
        settings,
        {"task_description": "Fix typo in README", "agent_type": "aria_coder_backend_quality_2"},
        {"task_description": "Fix typo in README", "complexity": 9, "task_type": "security"},
    )
    assert pinned.structured_content["agent_name"] == "aria_coder_backend_quality_2"
    assert complexity.structured_content["complexity_score"] == 9
    assert complexity.structured_content["task_type"] == "security"


@pytest.mark.parametrize(
    ("arguments", "field", "accepted"),
    [
        ({}, "task_description", "Field required"),
        ({"task_description": ""}, "task_description", "at least 1 character"),
        ({"task_description": "   "}, "task_description", "must not be empty"),
        ({"task_description": "Fix a bug", "routing_strategy": "fastest"}, "routing_strategy", "speed_first"),
        ({"task_description": "Fix a bug", "agent_type": "aria_painter"}, "agent_type", "aria_coder_backend"),
        ({"task_description": "Fix a bug", "policy": "lavish"}, "policy", "deep_research"),
        ({"task_description": "Fix a bug", "complexity": 11}, "complexity", "less than or equal to 10"),
        ({"task_description": "Fix a bug", "max_cost": -1}, "max_cost", "greater than 0"),
        ({"task_description": "Fix a bug", "budget_mode": "cheap"}, "budget_mode", "'local_only'"),
        ({"task_description": "Fix a bug", "severity": "catastrophic"}, "severity", "'critical'"),
    ],
)
async def test_bad_input_is_a_tool_error_naming_the_field_and_the_server_keeps_serving(
    settings: Settings, arguments: dict[str, Any], field: str, accepted: str
) -> None:
    bad, good = await call(settings, arguments, STRIPE)
    assert bad.is_error is True
    message = bad.content[0].text
    assert field in message and accepted in message
    assert good.is_error is False
    assert good.structured_content["agent_name"] == "aria_coder_api_quality"
