"""OpenRouter's figure in the stream is reconciled later from its generation endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mcp import Client

from server.app import build_server
from server.backends.base import Usage
from server.settings import load_settings
from server.store import Store
from tests.conftest import isolated_env
from tests.e2e.helpers import call, wait_finished
from tests.support.loopback_provider import LoopbackProvider, Reply


async def test_openrouter_cost_is_settled_again_from_the_generation_endpoint(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        env = isolated_env(tmp_path, OPENROUTER_API_KEY="sk-or-test", OPENROUTER_BASE_URL=lp.openrouter_url)
        settings = load_settings(env)
        lp.set_default(Reply("done", usage=Usage(input_tokens=100, output_tokens=10), cost=0.001,
                             generation_id="gen-reconcile"))
        lp.set_generation_cost("gen-reconcile", 0.0042)
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "aria_docs_speed", "task_description": "Fix a typo in the README",
            }]})
            status = await wait_finished(client, submitted["group_id"])
            assert status["status"] == "succeeded", status
            (task,) = status["tasks"]
            assert task["model_used"].startswith("openrouter/")
            store = await Store.open(settings.db_path)
            try:
                for _ in range(100):  # reconciliation runs off the hot path: give it a moment
                    (attempt,) = await store.list_attempts(group_id=submitted["group_id"])
                    if attempt.cost_usd == 0.0042:
                        break
                    await asyncio.sleep(0.05)
                assert attempt.cost_usd == 0.0042 and attempt.charged_usd == 0.0042
                assert attempt.cost_source == "provider_reported"
            finally:
                await store.close()
        assert any("/generation" in r.path for r in lp.requests)
