"""A model limited in tokens a minute (Groq's free plan: 6,000-30,000) refuses any larger request
outright: the default context fits what it takes, and a prompt over it is never sent to it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.context import close_indexes
from server.scheduler.prompt import count_tokens
from server.settings import Settings, load_settings
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env, write_overlay
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.validation.helpers import make_repo

PER_MINUTE = 6000
# Enough code about discounts that an 8,000-token budget fills up.
BIG = "".join(f"def discount_rule_{i}(order, rate):\n    \"\"\"Discount rule {i} for an order.\"\"\"\n"
              f"    total = sum(line.price * line.quantity for line in order.lines)\n"
              f"    return total * (1 - rate) if total > {i * 10} else total\n\n\n" for i in range(150))
PATCH = ("```diff\n--- a/shop/rules.py\n+++ b/shop/rules.py\n@@ -1,2 +1,2 @@\n def discount_rule_0(order, rate):\n"
         "-    \"\"\"Discount rule 0 for an order.\"\"\"\n+    \"\"\"Discount rule 0 for an order (the first).\"\"\"\n```")


def _settings(tmp_path: Path, url: str, per_minute: int | None, *, first_model_only: bool = False) -> Settings:
    """Loopback settings where every loop model (or only loopa/fast, the speed chain's first) is
    limited to `per_minute` tokens a minute."""
    env = loop_env(tmp_path, url, PWM_ALLOWED_ROOTS=str(tmp_path.parent))
    overlay = write_overlay(tmp_path / "manifests", provider_extra=(
        f"tokens_per_minute = {per_minute}" if per_minute and not first_model_only else "")) / "loop.toml"
    if per_minute and first_model_only:
        text = overlay.read_text()
        overlay.write_text(text.replace('model_name = "fast-a"\n', f'model_name = "fast-a"\ntokens_per_minute = {per_minute}\n'))
    return load_settings(env)


async def test_the_default_budget_fits_a_per_minute_limit_and_a_prompt_over_it_is_never_sent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"shop/__init__.py": "", "shop/rules.py": BIG})
    task = {"agent_type": "tcoder_speed", "workspace": str(repo), "validate": {"checks": ["lint"], "max_rounds": 3},
            "task_description": "Say in discount_rule_0's docstring that it is the first discount rule"}
    try:
        unlimited = await _route(tmp_path / "a", "http://127.0.0.1:9", None, task)
        with LoopbackProvider() as lp:
            lp.set_default(Reply(PATCH))
            settings = _settings(tmp_path / "b", lp.openai_url, PER_MINUTE)
            async with Client(build_server(settings)) as client:
                planned = await call(client, "route_task", {"task_description": task["task_description"],
                                                            "agent_type": "tcoder_speed", "workspace": str(repo)})
                fits = await call(client, "submit_parallel_tasks", {"tasks": [task]})
                fits_status = await wait_finished(client, fits["group_id"])
                sent_before = len(lp.requests)
                over = await client.call_tool("submit_parallel_tasks", {"tasks": [{**task, "context_budget_tokens": 8000}]})
                sent_after = len(lp.requests)
            requests = [r for r in lp.requests if r.json and "messages" in r.json]
    finally:
        close_indexes()
    assert unlimited["context"]["budget_tokens"] > PER_MINUTE  # without a limit: from the 32k window
    assert planned["context"]["budget_tokens"] < PER_MINUTE // 3
    (done,) = fits_status["tasks"]
    assert done["status"] == "succeeded", done.get("error")
    # within the limit with a tenth to spare, for a provider's tokenizer that counts more than ours
    assert requests and all(count_tokens(r.json["messages"]) + r.json["max_tokens"] <= 0.9 * PER_MINUTE
                            for r in requests)
    # a prompt over every model's limit is refused when submitted, naming the limit; nothing is sent
    text = over.content[0].text  # type: ignore[union-attr]
    assert over.is_error and "tokens a request may hold under its per-minute limit (loopa/fast" in text, text
    assert sent_after == sent_before


async def _route(tmp_path: Path, url: str, per_minute: int | None, task: Mapping[str, Any]) -> dict[str, Any]:
    async with Client(build_server(_settings(tmp_path, url, per_minute))) as client:
        return await call(client, "route_task", {"task_description": task["task_description"],
                                                 "agent_type": "tcoder_speed", "workspace": task["workspace"]})


async def test_a_limited_first_model_with_an_unlimited_fallback_gives_way_with_the_full_context(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"shop/__init__.py": "", "shop/rules.py": BIG})
    task = {"agent_type": "tcoder_speed", "workspace": str(repo), "validate": {"checks": ["lint"], "max_rounds": 3},
            "task_description": "Say in discount_rule_0's docstring that it is the first discount rule"}
    try:
        with LoopbackProvider() as lp:
            lp.set_default(Reply(PATCH))
            settings = _settings(tmp_path / "c", lp.openai_url, PER_MINUTE, first_model_only=True)
            async with Client(build_server(settings)) as client:
                planned = await call(client, "route_task", {"task_description": task["task_description"],
                                                            "agent_type": "tcoder_speed", "workspace": str(repo)})
                done = await call(client, "submit_parallel_tasks", {"tasks": [task]})
                status = await wait_finished(client, done["group_id"])
    finally:
        close_indexes()
    assert planned["context"]["budget_tokens"] > PER_MINUTE  # the unlimited fallback's, not 1,700
    assert planned["recommended_model"] == "loopa/fast2"
    assert "per-minute limit" in planned["excluded_models"]["loopa/fast"]
    (only,) = status["tasks"]
    assert only["status"] == "succeeded" and only["model_used"] == "loopa/fast2"
    assert not lp.requests_for("fast-a")  # the limited model was never sent what it would refuse
