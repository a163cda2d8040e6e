"""Follow-ups over MCP: continue_task continues a finished task's conversation on its model or a
stronger one, the cost lands on the same task, and the thread survives a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from server.workflows.followup import UNCHECKED_FOLLOW_UP
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.replies import reply_text


def roles(request_json: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], str(m["content"])[:40]) for m in request_json["messages"]]


async def test_a_follow_up_continues_the_thread_on_a_stronger_model_and_survives_a_restart(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("def greet(): return 'hi'"), Reply("def greet():\n    '''Hi.'''")])
        lp.script("mid-a", [Reply("def greet(name): return f'hi {name}'"), Reply("final")])
        settings = load_settings(loop_env(tmp_path, lp.openai_url))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"agent_type": "tcoder_speed", "task_description": "FIRST: write greet()"}]})
            (task,) = (await wait_finished(client, submitted["group_id"]))["tasks"]
            first = await call(client, "continue_task", {"task_id": task["task_id"], "message": "FOLLOW-1: docstring"})
            second = await call(client, "continue_task", {"task_id": task["task_id"], "message": "FOLLOW-2: a name",
                                                          "stronger": True})
        async with Client(build_server(settings)) as client:  # a restarted server, same database
            third = await call(client, "continue_task", {"task_id": task["task_id"], "message": "FOLLOW-3: done?"})
            status = await call(client, "get_parallel_group_status", {"group_id": submitted["group_id"]})
        fast, mid = [r.json for r in lp.requests_for("fast-a")], [r.json for r in lp.requests_for("mid-a")]
    assert (first["status"], first["model"], first["turn"]) == ("succeeded", "loopa/fast", 1)
    assert roles(fast[1])[1:] == [("user", "FIRST: write greet()"), ("assistant", "def greet(): return 'hi'"),
                                  ("user", "FOLLOW-1: docstring")]
    assert UNCHECKED_FOLLOW_UP not in fast[1]["messages"][-1]["content"]  # nothing asked for a patch
    assert (second["model"], second["turn"], second["answer"]) == ("loopa/mid", 2, "def greet(name): return f'hi {name}'")
    assert second["cost"] > 0
    # after the restart the thread is all there, and the follow-up stays on the model that answered last
    assert third["turn"] == 3 and third["model"] == "loopa/mid"
    assert [r for r, _ in roles(mid[1])] == ["system", "user", "assistant", "user", "assistant", "user", "assistant",
                                             "user"]
    assert "FOLLOW-2" in mid[1]["messages"][5]["content"] and "FOLLOW-3" in mid[1]["messages"][7]["content"]
    (entry,) = status["tasks"]
    assert entry["status"] == "succeeded" and entry["follow_ups"] == 3
    assert [a["model"] for a in entry["attempts"]] == ["loopa/fast", "loopa/fast", "loopa/mid", "loopa/mid"]
    assert entry["cost_data"]["total_cost"] >= second["cost"] + third["cost"] > 0
    assert entry["result"] == "def greet(): return 'hi'"  # the task's own answer is kept


async def test_continue_task_refuses_an_unknown_and_a_still_running_task(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("slow answer", chunks=3, chunk_delay=1.0)])
        settings = load_settings(loop_env(tmp_path, lp.openai_url))
        async with Client(build_server(settings)) as client:
            unknown = await client.call_tool("continue_task", {"task_id": "nope", "message": "go on"})
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"agent_type": "tcoder_speed", "task_description": "slow"}]})
            running = await client.call_tool("continue_task", {"task_id": submitted["tasks"][0]["task_id"],
                                                               "message": "go on"})
            await wait_finished(client, submitted["group_id"])
    assert unknown.is_error and "nope" in unknown.content[0].text  # type: ignore[union-attr]
    assert running.is_error
    text = running.content[0].text  # type: ignore[union-attr]
    assert "task_id" in text and "still" in text


async def test_a_follow_up_slower_than_a_call_goes_on_and_the_same_call_again_collects_it(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("def greet(): return 'hi'"), Reply("slow follow-up", chunks=3, chunk_delay=0.8)])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_TOOL_TIME_LIMIT_S="1"))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"agent_type": "tcoder_speed", "task_description": "write greet()"}]})
            (task,) = (await wait_finished(client, submitted["group_id"]))["tasks"]
            ask = {"task_id": task["task_id"], "message": "SLOW: add a docstring"}
            running = await call(client, "continue_task", ask)
            other = await client.call_tool("continue_task", {"task_id": task["task_id"], "message": "something else"})
            collected = running
            for _ in range(5):  # each call waits up to the 1 s limit
                collected = await call(client, "continue_task", ask)
                if collected["status"] != "running":
                    break
        follow_ups = [r for r in lp.requests_for("fast-a") if "SLOW: add a docstring" in str(r.json)]
    assert running["status"] == "running" and running["answer"] is None
    assert "same task_id, message and stronger" in running["next_step"]
    assert other.is_error and "task_id" in reply_text(other) and "still being answered" in reply_text(other)
    assert (collected["status"], collected["turn"], collected["answer"]) == ("succeeded", 1, "slow follow-up")
    assert len(follow_ups) == 1  # asked again, sent once


CALC = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(60))
UTIL = "def helper_util(text):\n    return text.strip().lower()\n"


async def test_a_follow_up_shows_the_code_of_the_first_turn_and_local_only_later_keeps_it_local(tmp_path: Path) -> None:
    from tests.validation.helpers import make_repo

    repo = make_repo(tmp_path / "calc", {"calc.py": CALC, "util.py": UTIL})
    with LoopbackProvider() as lp:
        lp.set_default(Reply("an answer"))
        env = loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path))
        async with Client(build_server(load_settings(env))) as client:
            tasks = [{"agent_type": "tcoder_speed", "task_description": "Explain f3 in calc.py", "workspace": str(repo),
                      "files": ["calc.py:13-14"], "context_budget_tokens": 64, "validate": False}] * 2
            submitted = await call(client, "submit_parallel_tasks", {"tasks": tasks})
            first, second = (await wait_finished(client, submitted["group_id"]))["tasks"]
            extended = await call(client, "continue_task", {"task_id": second["task_id"],
                                                            "message": "What does `helper_util` do?"})
            follow_up = lp.requests_for("fast-a")[-1].json["messages"]
        # the same database under PWM_LOCAL_ONLY: loopa/fast is not a local model
        async with Client(build_server(load_settings({**env, "PWM_LOCAL_ONLY": "1"}))) as client:
            before = len(lp.requests)
            kept = await client.call_tool("continue_task", {"task_id": first["task_id"], "message": "And f4?"})
            later = [r.prompt for r in lp.requests[before:]]
            refused = await client.call_tool("continue_task", {"task_id": second["task_id"], "message": "And f5?"})
            after = len(lp.requests)
    # the follow-up's first turn is the first prompt as sent, code included: a request is all a model sees
    assert "return x + 3" in follow_up[1]["content"] and "text.strip().lower()" in follow_up[-1]["content"]
    assert "util.py" in " ".join(extended["context_sent"])
    # under local-only, a model that is not local is sent no workspace code, and told of none
    assert not kept.is_error, kept.content[0].text  # type: ignore[union-attr]
    assert later and not any("return x + 3" in p or "already shown" in p for p in later)
    text = refused.content[0].text  # type: ignore[union-attr]
    assert refused.is_error and "PWM_LOCAL_ONLY" in text and after == len(lp.requests)  # nothing sent


async def test_a_follow_up_opens_with_the_task_s_first_prompt_as_sent(tmp_path: Path) -> None:
    from tests.validation.helpers import make_repo

    repo = make_repo(tmp_path / "calc", {"calc.py": "def add(a, b):\n    return a + b\n"})
    diff = ("```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,3 @@\n def add(a, b):\n"
            "+    \"\"\"Sum.\"\"\"\n     return a + b\n```")
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("DEPENDENCY-RESULT: add sums two numbers"), Reply(diff), Reply("a follow-up answer")])
        env = loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path))
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "read", "agent_type": "tcoder_speed", "task_description": "Say what add() does"},
                {"id": "doc", "agent_type": "tcoder_speed", "task_description": "Add a docstring to add() in calc.py",
                 "depends_on": ["read"], "workspace": str(repo), "validate": {"checks": ["syntax"]}}]})
            finished = await wait_finished(client, submitted["group_id"])
            doc = next(t for t in finished["tasks"] if t["id"] == "doc")
            await call(client, "continue_task", {"task_id": doc["task_id"], "message": "Why that wording?"})
        sent = [r.json["messages"] for r in lp.requests_for("fast-a")]
    assert doc["status"] == "succeeded"
    first_prompt, follow_up = sent[1], sent[-1]
    assert "DEPENDENCY-RESULT" in first_prompt[-1]["content"] and "SEARCH/REPLACE" in first_prompt[-1]["content"]
    # the thread opens with that prompt, byte for byte: its dependency's result and the patch it asked for
    assert follow_up[:len(first_prompt)] == first_prompt
    assert follow_up[len(first_prompt)]["role"] == "assistant"
    assert follow_up[-1]["content"].startswith("Why that wording?")
    assert UNCHECKED_FOLLOW_UP in follow_up[-1]["content"]  # the patch asked for first was the task's form only
