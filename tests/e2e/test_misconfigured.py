"""A model refused with 401 is left out for a while, and `reset_routing_insights` lets it back in at
once: through an MCP client session, against the loopback HTTP provider."""

from __future__ import annotations

from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import attempts_of, call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply, Status

ROUTE = {"agent_type": "tcoder_speed", "task_description": "Create product CRUD operations with basic validation"}


async def test_a_model_refused_with_401_is_left_out_until_the_insights_are_reset(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Status(401)], default=Reply("fixed"))
        lp.set_default(Reply("done"), model="fast-a2")
        async with Client(build_server(load_settings(loop_env(tmp_path, lp.openai_url)))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{**ROUTE, "id": "x"}]})
            status = await wait_finished(client, submitted["group_id"])
            assert attempts_of(status, "x") == [("loopa/fast", "failed", "auth"), ("loopa/fast2", "succeeded", None)]

            routed = await call(client, "route_task", ROUTE)
            assert routed["recommended_model"] == "loopa/fast2"
            assert routed["excluded_models"]["loopa/fast"].startswith("marked misconfigured: auth")
            assert "tried again in" in routed["excluded_models"]["loopa/fast"]

            kind_only = await call(client, "reset_routing_insights", {"task_type": "crud"})
            assert kind_only["cleared_misconfigured"] == []  # a task type's record is not the model's health
            reset = await call(client, "reset_routing_insights", {})
            assert reset["cleared_misconfigured"] == ["loopa/fast"]

            routed = await call(client, "route_task", ROUTE)
            assert routed["recommended_model"] == "loopa/fast" and "loopa/fast" not in routed["excluded_models"]
            again = await call(client, "submit_parallel_tasks", {"tasks": [{**ROUTE, "id": "y"}]})
            status = await wait_finished(client, again["group_id"])
            assert attempts_of(status, "y") == [("loopa/fast", "succeeded", None)]
