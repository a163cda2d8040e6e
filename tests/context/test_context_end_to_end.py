"""Workspace context over MCP, against the loopback provider: what the model receives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.context import close_indexes
from server.settings import load_settings
from tests.context.helpers import CANARY, make_context_repo
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.loopback_wire import RecordedRequest, Respond
from tests.support.replies import reply_text
from tests.validation.helpers import make_repo

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
PATCH = ("```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,4 +1,4 @@\n def add(a, b):\n-    return a - b\n"
         "+    return a + b\n \n \n```")


def _prompt(request: RecordedRequest) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.json.get("messages", []))


async def test_a_planted_canary_key_never_reaches_the_provider(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    try:
        with LoopbackProvider() as lp:
            lp.set_default(Reply("done"))
            settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
            async with Client(build_server(settings)) as client:
                submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                    "agent_type": "tcoder_speed", "workspace": str(repo), "files": ["shop/settings.py"], "validate": False,
                    "task_description": "Read the aws key and region from the environment in shop/settings.py",
                }]})
                status = await wait_finished(client, submitted["group_id"])
            sent = [_prompt(r) for r in lp.requests if r.json and "messages" in r.json]
    finally:
        close_indexes()
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", task.get("error")
    assert sent and all("REGION" in p for p in sent)  # the file was shown ...
    # the status records exactly what was shown, and every recorded piece is in the prompt
    recorded = task["context"]
    assert recorded["pieces"][0].startswith("shop/settings.py:") and recorded["total_tokens"] <= recorded["budget_tokens"]
    assert len(recorded["pieces"]) == recorded["piece_count"]
    for piece in recorded["pieces"]:
        path, lines = piece.rsplit(":", 1)
        assert f"### {path} (lines {lines})" in sent[0]
    assert not any(CANARY in p for p in sent)  # ... without the line holding the key
    assert not any(CANARY in json.dumps(r.json) for r in lp.requests)


async def test_route_task_returns_what_the_model_would_see_within_the_budget(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9", PWM_ALLOWED_ROOTS=str(tmp_path)))
    try:
        async with Client(build_server(settings)) as client:
            out = await call(client, "route_task", {
                "task_description": "apply_discount must not discount orders of exactly 100",
                "agent_type": "tcoder_speed", "workspace": str(repo), "files": ["shop/cart.py:4-12"],
                "context_budget_tokens": 1500})
            outside = await client.call_tool("route_task", {
                "task_description": "x", "workspace": "/", "context_budget_tokens": 1500})
            missing = await client.call_tool("route_task", {
                "task_description": "x", "workspace": str(repo), "files": ["shop/nope.py"]})
    finally:
        close_indexes()
    context = out["context"]
    first = context["files"][0]
    assert (first["path"], first["reason"]) == ("shop/cart.py", "requested")
    assert first["start_line"] <= 4 and first["end_line"] == 12
    assert "shop/pricing.py" in [f["path"] for f in context["files"]]
    assert context["total_tokens"] <= context["budget_tokens"] == 1500
    assert outside.is_error and "workspace" in reply_text(outside) and "outside" in reply_text(outside)
    assert missing.is_error and "files[0]" in reply_text(missing)


async def test_route_task_lists_a_large_selection_a_page_at_a_time(tmp_path: Path) -> None:
    # 90 modules that all match the task, and a budget that takes them all: the answer lists one
    # page of pieces (a client warns at 10k tokens of output) and says where the next page starts
    files = {f"shop/rule_{n:02d}.py": f"def discount_rule_{n}(order):\n    return order.total * {n} / 100\n"
             for n in range(90)}
    repo = make_repo(tmp_path / "repo", files)
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9", PWM_ALLOWED_ROOTS=str(tmp_path)))
    args = {"task_description": "every discount rule must round the order total", "agent_type": "tcoder_speed",
            "workspace": str(repo), "context_budget_tokens": 100_000}
    pages: list[dict[str, Any]] = []
    try:
        async with Client(build_server(settings)) as client:
            offset: int | None = 0
            while offset is not None:
                raw = await client.call_tool("route_task", {**args, "context_offset": offset})
                assert len(reply_text(raw)) < 20_000  # about 5k tokens at most, whatever the budget
                pages.append(json.loads(reply_text(raw))["context"])
                offset = pages[-1]["files_next_offset"]
    finally:
        close_indexes()
    listed = [f["path"] for page in pages for f in page["files"]]
    assert [len(page["files"]) for page in pages] == [40, 40, 10]
    assert [page["files_offset"] for page in pages] == [0, 40, 80]
    assert all(page["files_total"] == 90 for page in pages)
    assert sorted(listed) == sorted(files)  # every piece once, in rank order across the pages
    assert sum(f["tokens"] for page in pages for f in page["files"]) <= pages[0]["total_tokens"]
    assert pages[0]["total_tokens"] == pages[2]["total_tokens"] <= 100_000


async def test_route_task_counts_the_code_it_will_show_in_input_tokens_and_cost(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    settings = load_settings(loop_env(tmp_path, "http://127.0.0.1:9", PWM_ALLOWED_ROOTS=str(tmp_path)))
    task = {"task_description": "apply_discount must not discount orders of exactly 100",
            "agent_type": "tcoder_balanced"}  # a paid model: the code shown costs money
    try:
        async with Client(build_server(settings)) as client:
            bare = await call(client, "route_task", task)
            shown = await call(client, "route_task", {**task, "workspace": str(repo), "context_budget_tokens": 1500})
    finally:
        close_indexes()
    context = shown["context"]
    assert shown["recommended_model"] == bare["recommended_model"] == "loopa/mid"
    assert context["total_tokens"] > 0
    added = shown["estimated_input_tokens"] - bare["estimated_input_tokens"]
    # every token of the selection, plus the few of its heading, and nothing else
    assert context["total_tokens"] <= added <= context["total_tokens"] + 40
    # loopa/mid reads input at $1 per million tokens
    assert abs((shown["estimated_cost"] - bare["estimated_cost"]) - added / 1_000_000) < 2e-6


async def test_a_validated_task_sees_the_function_it_must_change_and_its_patch_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {"calc.py": CALC, "test_calc.py": TEST})
    shown: list[str] = []

    def answer(request: RecordedRequest) -> Reply:
        prompt = _prompt(request)
        shown.append(prompt)
        # the stand-in model can only patch code it was shown
        return Reply(PATCH if "### calc.py (lines 1-" in prompt and "return a - b" in prompt else "no code shown")

    try:
        with LoopbackProvider() as lp:
            lp.set_default(Respond(answer))
            settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
            async with Client(build_server(settings)) as client:
                routed = await call(client, "route_task", {
                    "task_description": "Fix add() so that the tests pass", "agent_type": "tcoder_speed",
                    "workspace": str(repo)})
                submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                    "agent_type": "tcoder_speed", "task_description": "Fix add() so that the tests pass",
                    "workspace": str(repo), "validate": {"checks": ["test"], "max_rounds": 1},
                }]})
                status = await wait_finished(client, submitted["group_id"])
    finally:
        close_indexes()
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", (task.get("error"), shown[0][:3000])
    assert "+    return a + b" in task["result"]
    # the patch was checked on the very commit the model's context was read from
    assert task["context"]["commit"] is not None
    assert task["attempts"][-1]["validation"]["base_commit"] == task["context"]["commit"]
    context = routed["context"]
    # tokens sent beside the whole repository's
    assert 0 < context["total_tokens"] <= context["budget_tokens"]
    assert context["repo_tokens"] > 0
    assert any("def add(a, b)" in p for p in shown)
