"""Groups submitted through an MCP client session, run against the loopback HTTP provider.

Each test opens the in-process client in its body (an async yield fixture breaks mcp 2.x's
cancel scopes at teardown). The loopback provider answers per model as scripted: plain
replies, 429 with Retry-After, 5xx, hangs, truncated streams and malformed JSON.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.backends.base import Usage
from server.settings import BudgetSettings, load_settings
from tests.e2e.helpers import attempts_of, call, task_of, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import Hang, LoopbackProvider, Malformed, Reply, Status, Truncate

SEED_TASK = {
    "agent_type": "tcoder_speed",
    "task_description": "Create product CRUD operations with basic validation",
    "priority": 9,
    "timeout_seconds": 300,
    "tags": ["ecommerce", "speed_optimized", "crud"],
    "model_routing": {"recommended_model": "cerebras_llama3_1_8b", "estimated_cost": 0.01, "complexity_score": 2},
    "quality_gates": {"security_review": False},
    "routing": {"model": "gpt_4o_mini", "reasoning": "low bug, simple complexity"},
}


def _settings(tmp_path: Path, lp: LoopbackProvider, **overrides: Any) -> Any:
    return load_settings(loop_env(tmp_path, lp.openai_url), **overrides)


async def test_seed_task_list_runs_and_status_shows_result_cost_and_path(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("def create_product(): ...", usage=Usage(input_tokens=40, output_tokens=12))])
        lp.script("mid-a", [Reply("reviewed", usage=None)])
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submitted = await call(client, "submit_parallel_tasks", {
                "tasks": [
                    {**SEED_TASK, "id": "crud"},
                    {"id": "review", "agent_type": "tcoder_balanced", "task_description": "Review the CRUD code",
                     "depends_on": ["crud"]},
                ],
                "group_name": "ecommerce_speed_build",
                "routing_strategy": "speed_first",
            })
            assert submitted["status"] == "running" and submitted["task_count"] == 2
            assert [t["model"] for t in submitted["tasks"]] == ["loopa/fast", "loopa/mid"]
            status = await wait_finished(client, submitted["group_id"])
        assert status["status"] == "succeeded" and status["progress"] == 1.0
        crud = task_of(status, "crud")
        assert crud["result"] == "def create_product(): ..." and crud["model_used"] == "loopa/fast"
        assert crud["cost_data"] == {"input_tokens": 40, "output_tokens": 12, "total_cost": 0.0, "cost_source": "catalog"}
        assert crud["tags"] == SEED_TASK["tags"]
        review = task_of(status, "review")
        assert review["cost_data"]["total_cost"] > 0  # no usage reported: priced from our own count
        assert "def create_product(): ..." in lp.requests_for("mid-a")[0].prompt
        assert status["total_cost"] == review["cost_data"]["total_cost"]


async def test_transient_failures_retry_and_fall_back_along_the_chain(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Status(401)])
        lp.script("fast-a2", [Truncate(), Malformed(), Status(503)])
        lp.script("fast-b", [Hang(30)], default=Reply("finally"))
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{**SEED_TASK, "id": "x"}]})
            status = await wait_finished(client, submitted["group_id"])
        assert attempts_of(status, "x") == [
            ("loopa/fast", "failed", "auth"),
            ("loopa/fast2", "failed", "bad_response"),
            ("loopa/fast2", "failed", "bad_response"),
            ("loopa/fast2", "failed", "bad_response"),
            ("loopb/fast", "failed", "timeout"),
            ("loopb/fast", "succeeded", None),
        ]
        assert task_of(status, "x")["result"] == "finally"


async def test_exhausted_variant_escalates_and_rate_limit_moves_on(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Status(429, retry_after=30)])
        for model in ("fast-a2", "fast-b"):
            lp.set_default(Status(404), model=model)
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{**SEED_TASK, "id": "x"}]})
            status = await wait_finished(client, submitted["group_id"])
        assert attempts_of(status, "x") == [
            ("loopa/fast", "failed", "rate_limited"),
            ("loopa/fast2", "failed", "not_found"),
            ("loopb/fast", "failed", "not_found"),
            ("loopa/mid", "succeeded", None),
        ]
        entry = task_of(status, "x")
        assert entry["attempts"][-1]["variant"] == "balanced" and entry["cost_data"]["total_cost"] > 0
        assert lp.count_429 == 1


async def test_budget_warns_then_stops_paid_calls(tmp_path: Path) -> None:
    messages: list[Any] = []

    async def on_log(params: Any) -> None:
        messages.append(params)

    budgets = BudgetSettings(daily=0.01, warn_at=0.5, stop_at=1.0)
    with LoopbackProvider() as lp:
        # 1 $/M in, 2 $/M out: 3000 output tokens = $0.006 (60% of the daily budget).
        lp.set_default(Reply("paid answer", usage=Usage(input_tokens=0, output_tokens=3000)), model="mid-a")
        settings = _settings(tmp_path, lp, budgets=budgets)
        async with Client(build_server(settings), logging_callback=on_log, log_level="warning") as client:
            first = await call(client, "submit_parallel_tasks", {
                "tasks": [{"id": "paid", "agent_type": "tcoder_balanced", "task_description": "Build the API"}],
            })
            status = await wait_finished(client, first["group_id"])
            assert status["budget_state"] == "warn" and status["budget_warnings"]
            assert any("daily budget" in str(m.data) for m in messages)
            second = await call(client, "submit_parallel_tasks", {
                "tasks": [
                    {"id": "paid", "agent_type": "tcoder_balanced", "task_description": "Build the API again"},
                    {"id": "free", "agent_type": "tcoder_speed", "task_description": "Write a helper"},
                ],
            })
            assert second["budget_state"] == "warn"
            status = await wait_finished(client, second["group_id"])
        paid = task_of(status, "paid")
        assert paid["status"] == "failed" and paid["error_class"] == "budget", paid
        assert "daily" in paid["error"]
        assert task_of(status, "free")["status"] == "succeeded"
        assert len(lp.requests_for("mid-a")) == 1


async def test_cancel_stops_running_calls_and_pending_tasks(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="fast-a")
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submitted = await call(client, "submit_parallel_tasks", {
                "tasks": [
                    {**SEED_TASK, "id": "a"},
                    {**SEED_TASK, "id": "b", "depends_on": ["a"]},
                ],
                "group_name": "to_cancel",
            })
            assert await asyncio.to_thread(lp.wait_for_requests, 1, 5)
            cancelled = await call(client, "cancel_parallel_group", {"group_name": "to_cancel"})
            assert cancelled["status"] == "cancelled" and sorted(cancelled["cancelled_tasks"]) == ["a", "b"]
            status = await call(client, "get_parallel_group_status", {"group_id": submitted["group_id"]})
        assert status["counts"] == {"cancelled": 2} and status["finished"]
        assert attempts_of(status, "a") == [("loopa/fast", "cancelled", "cancelled")]


async def test_a_cancelled_paid_call_shows_the_reservation_it_was_charged(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.set_default(Hang(30), model="mid-a")
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "a", "agent_type": "tcoder_balanced", "task_description": "Write a parser"}]})
            assert await asyncio.to_thread(lp.wait_for_requests, 1, 5)
            await call(client, "cancel_parallel_group", {"group_id": submitted["group_id"]})
            status = await call(client, "get_parallel_group_status", {"group_id": submitted["group_id"]})
    a = task_of(status, "a")
    (attempt,) = a["attempts"]
    # the call, cut off before the provider said its usage, is charged its reservation: the attempt says
    # so, beside the task's total (it read "unknown" cost beside a total above zero)
    assert a["cost_data"]["total_cost"] > 0
    assert (attempt["cost"], attempt["cost_source"]) == (a["cost_data"]["total_cost"], "reserved"), a
    assert a["cost_data"]["cost_source"] == "reserved"


async def test_long_result_is_cut_and_the_rest_is_readable(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        text = "".join(f"line {i}\n" for i in range(400))
        lp.set_default(Reply(text), model="fast-a")
        async with Client(build_server(_settings(tmp_path, lp, max_result_chars=1000))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{**SEED_TASK, "id": "x"}]})
            entry = task_of(await wait_finished(client, submitted["group_id"]), "x")
            assert entry["result_truncated"] and len(entry["result"]) == 1000
            rest = await call(client, "get_task_result", {"task_id": entry["task_id"], "offset": 1000, "limit": 60000})
        assert entry["result"] + rest["text"] == text and rest["next_offset"] is None


async def test_bad_submissions_name_the_field(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        async with Client(build_server(_settings(tmp_path, lp, max_tasks_per_group=3))) as client:
            cases: dict[str, dict[str, Any]] = {
                "tasks": {"tasks": [SEED_TASK] * 4},
                "tasks[1].id": {"tasks": [{**SEED_TASK, "id": "a"}, {**SEED_TASK, "id": "a"}]},
                "tasks[0].agent_type": {"tasks": [{**SEED_TASK, "agent_type": "aria_nobody"}]},
                "routing_strategy": {"tasks": [SEED_TASK], "routing_strategy": "yolo"},
                "cycle": {"tasks": [{**SEED_TASK, "id": "a", "depends_on": ["a"]}]},
                "timeout_seconds": {"tasks": [{**SEED_TASK, "timeout_seconds": -5}]},
                "priority": {"tasks": [{**SEED_TASK, "priority": 11}]},
            }
            for needle, arguments in cases.items():
                result = await client.call_tool("submit_parallel_tasks", arguments)
                text = " ".join(getattr(c, "text", "") for c in result.content)
                assert result.is_error, needle
                assert needle in text or (needle == "cycle" and "itself" in text), (needle, text)
            missing = await client.call_tool("get_parallel_group_status", {"group_name": "nothing"})
            assert missing.is_error and "nothing" in " ".join(getattr(c, "text", "") for c in missing.content)


async def test_a_client_that_reads_only_the_text_gets_the_results_too(tmp_path: Path) -> None:
    # Claude Desktop hands its model a tool result's text blocks only (Claude Code the structured
    # content only): the submit and status replies carry the data both ways
    import json

    with LoopbackProvider() as lp:
        lp.set_default(Reply("THE-RESULT-TEXT"))
        async with Client(build_server(_settings(tmp_path, lp))) as client:
            submit = await client.call_tool("submit_parallel_tasks", {"tasks": [SEED_TASK], "wait_seconds": 20})
            group_id = (submit.structured_content or {})["group_id"]
            status = await client.call_tool("get_parallel_group_status", {"group_id": group_id})
    for reply in (submit, status):
        texts = [c.text for c in reply.content if c.type == "text"]
        assert len(texts) == 2 and group_id in texts[0]  # a summary, then the data
        assert json.loads(texts[1]) == reply.structured_content
        assert "THE-RESULT-TEXT" in texts[1]
