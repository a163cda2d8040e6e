"""`resources/list` names the concrete resources (catalogue, budget, recent groups), and each
listed URI reads through its template."""

from __future__ import annotations

import json
from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.scheduler.overlay import loop_env


async def test_resources_list_names_models_budget_and_each_recent_group(tmp_path: Path) -> None:
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1"))
    async with Client(build_server(settings)) as client:
        before = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"pwm://models", "pwm://budget"} <= before
        assert not any(uri.startswith("pwm://groups/") for uri in before)

        submitted = await client.call_tool("submit_parallel_tasks", {
            "group_name": "listed-group",
            "tasks": [{"agent_type": "aria_docs", "task_description": "Document the CRUD endpoints"}],
        })
        assert not submitted.is_error, submitted.content
        group_id = submitted.structured_content["group_id"]

        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        group_uri = f"pwm://groups/{group_id}"
        assert group_uri in listed and "listed-group" in (listed[group_uri].title or "")
        assert listed["pwm://models"].mime_type == "application/json"

        for uri in ("pwm://models", "pwm://budget", group_uri):
            contents = (await client.read_resource(uri)).contents
            body = json.loads(contents[0].text)  # type: ignore[union-attr]
            assert body, uri
        group = json.loads((await client.read_resource(group_uri)).contents[0].text)  # type: ignore[union-attr]
        assert group["group"]["id"] == group_id
