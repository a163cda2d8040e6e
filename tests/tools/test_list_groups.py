"""`list_groups`: recent groups newest first, a page at a time, with state, counts and cost."""

from __future__ import annotations

from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply


async def test_groups_are_listed_newest_first_in_pages_and_filtered_by_state(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Reply("done"), model="fast-a")
        async with Client(build_server(load_settings(loop_env(tmp_path, lp.openai_url)))) as client:
            ids = []
            for name in ("first", "second", "third"):
                submitted = await call(client, "submit_parallel_tasks", {"group_name": name, "tasks": [
                    {"agent_type": "tcoder_speed", "task_description": f"Write the {name} helper"},
                    {"agent_type": "tcoder_speed", "task_description": f"Test the {name} helper"},
                ]})
                await wait_finished(client, submitted["group_id"])
                ids.append(submitted["group_id"])
            page = await call(client, "list_groups", {"limit": 2})
            rest = await call(client, "list_groups", {"limit": 2, "offset": page["next_offset"]})
            failed = await call(client, "list_groups", {"status": "failed"})
    assert [g["name"] for g in page["groups"]] == ["third", "second"]
    assert [g["group_id"] for g in rest["groups"]] == [ids[0]] and rest["next_offset"] is None
    first = rest["groups"][0]
    assert first["status"] == "succeeded" and first["counts"] == {"succeeded": 2}
    assert first["cost_usd"] == 0.0 and first["created"].endswith("+00:00")
    assert failed == {"groups": [], "next_offset": None}
