"""Agent mode over MCP against the loopback provider scripted to return tool calls: each task
works in its own worktree with tools and hands back a patch that passed the project's checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.backends.base import ToolCall
from server.settings import load_settings
from tests.conftest import isolated_env
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env, write_overlay
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.loopback_wire import Respond
from tests.support.replies import reply_text

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def _project(root: Path) -> Path:
    repo = root / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(BUGGY)
    (repo / "test_calc.py").write_text(TEST)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "buggy add")
    return repo


async def _fix_add_as_agent(tmp_path: Path, repo: Path, lp: LoopbackProvider, **validate: Any) -> dict[str, Any]:
    """Submit "fix add()" in agent mode, checked by the tests (and `validate`), and wait for it."""
    settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
    async with Client(build_server(settings)) as client:
        submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
            "agent_type": "tcoder_speed", "task_description": "Fix add() in calc.py so the tests pass",
            "workspace": str(repo), "mode": "agent", "validate": {"checks": ["test"], **validate},
        }]})
        return await wait_finished(client, submitted["group_id"])


def tool(name: str, n: int, **arguments: Any) -> Reply:
    return Reply("", tool_calls=(ToolCall(f"call_{n}", name, json.dumps(arguments)),))


def tool_results(request_json: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request_json["messages"] if m.get("role") == "tool"]


async def test_an_agent_reads_edits_sees_its_test_fail_fixes_it_and_hands_back_a_passing_patch(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("read_file", 1, path="calc.py", start_line=1, end_line=2),
            tool("replace_text", 2, path="calc.py", old="def add(a, b):\n    return a - b",
                 new="def add(a, b):\n    return a * b"),
            tool("run_checks", 3),
            tool("replace_text", 4, path="calc.py", old="return a * b", new="return a + b"),
            tool("run_checks", 5),
            tool("done", 6, summary="add() adds"),
        ])
        status = await _fix_add_as_agent(tmp_path, repo, lp)
        requests = [r.json for r in lp.requests_for("fast-a")]
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", task
    assert task["model_used"] == "loopa/fast"
    assert "+    return a + b" in task["result"] and "a * b" not in task["result"]
    # every turn offered the tools; the model was shown the function and, later, the failing test
    assert len(requests) == 6 and all({t["function"]["name"] for t in r["tools"]} >= {"read_file", "done"}
                                      for r in requests)
    assert "return a - b" in tool_results(requests[1])[0]
    assert "test_add" in tool_results(requests[3])[-1]
    (attempt,) = [a for a in task["attempts"] if a.get("validation")]
    agent = attempt["validation"]["agent"]
    assert agent["stop_reason"] == "done" and agent["checks_passed"] is True
    assert [s["tool"] for s in agent["steps"]] == ["read_file", "replace_text", "run_checks", "replace_text",
                                                   "run_checks", "done"]
    assert attempt["validation"]["files_changed"] == ["calc.py"]
    assert attempt["validation"]["diff_stat"] == {"files": 1, "insertions": 1, "deletions": 1}
    assert (repo / "calc.py").read_text() == BUGGY  # the user's tree waits for apply_validated_patch


@pytest.mark.parametrize("answer", [
    "The fix:\n```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
    "+    return a + b\n```",
    "calc.py\n```python\n<<<<<<< SEARCH\ndef add(a, b):\n    return a - b\n=======\ndef add(a, b):\n"
    "    return a + b\n>>>>>>> REPLACE\n```",
], ids=["diff", "search-replace"])
async def test_an_agent_that_writes_its_change_as_a_patch_instead_of_using_the_tools_is_checked_on_it(
    tmp_path: Path, answer: str,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [tool("read_file", 1, path="calc.py"), Reply(answer)])
        status = await _fix_add_as_agent(tmp_path, repo, lp, max_rounds=1)
    (task,) = status["tasks"]
    assert task["status"] == "succeeded" and task["model_used"] == "loopa/fast", (task["error"], task["attempts"])
    assert "+    return a + b" in task["result"]
    (attempt,) = [a for a in task["attempts"] if a.get("validation")]
    assert attempt["validation"]["agent"]["stop_reason"] == "done" and len(lp.requests_for("fast-a")) == 2


async def test_an_agent_whose_patch_fails_the_checks_escalates_with_the_diagnostics(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("replace_text", 1, path="calc.py", old="def add(a, b):\n    return a - b",
                 new="def add(a, b):\n    return 0"),
            tool("done", 2),
        ])
        lp.script("mid-a", [
            tool("replace_text", 1, path="calc.py", old="def add(a, b):\n    return a - b",
                 new="def add(a, b):\n    return a + b"),
            tool("done", 2),
        ])
        status = await _fix_add_as_agent(tmp_path, repo, lp, max_rounds=2)
        mid_first = lp.requests_for("mid-a")[0].json
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", task
    assert task["model_used"] == "loopa/mid"
    assert "+    return a + b" in task["result"]
    # the stronger agent started from a fresh worktree, told what the first attempt's checks said
    assert any("test_add" in str(m.get("content")) for m in mid_first["messages"])


async def test_a_model_without_tool_calling_is_passed_over_in_agent_mode(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("replace_text", 1, path="calc.py", old="return a - b\n\n\ndef sub",
                 new="return a + b\n\n\ndef sub"),
            tool("done", 2),
        ])
        env = loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path))
        write_overlay(tmp_path / "manifests", speed=("loopa/fast2", "loopa/fast"))  # fast2 takes no tools
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_speed", "task_description": "Fix add() in calc.py so the tests pass",
                "workspace": str(repo), "mode": "agent", "validate": {"checks": ["test"]},
            }]})
            status = await wait_finished(client, submitted["group_id"])
        assert lp.requests_for("fast-a2") == []
    (task,) = status["tasks"]
    assert task["status"] == "succeeded" and task["model_used"] == "loopa/fast", (task["error"], task["attempts"])


async def test_agent_mode_without_a_workspace_is_refused_naming_the_field(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            result = await client.call_tool("submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_speed", "task_description": "Fix it", "mode": "agent",
            }]})
    assert result.is_error
    assert "tasks[0].workspace" in reply_text(result)


async def test_two_parallel_agents_editing_one_file_are_flagged_and_applied_one_by_one(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("replace_text", 1, path="calc.py", old="def add(a, b):\n    return a - b",
                 new="def add(a, b):\n    return a + b"),
            tool("done", 2),
        ])
        lp.script("mid-a", [
            tool("replace_text", 1, path="calc.py", old="def add(a, b):\n    return a - b",
                 new="def add(a, b):\n    return b + a"),
            tool("done", 2),
        ])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "one", "agent_type": "tcoder_speed", "task_description": "Fix add()",
                 "workspace": str(repo), "mode": "agent", "validate": {"checks": ["test"]}},
                {"id": "two", "agent_type": "tcoder_balanced", "task_description": "Fix add() too",
                 "workspace": str(repo), "mode": "agent", "validate": {"checks": ["test"]}},
            ]})
            status = await wait_finished(client, submitted["group_id"])
            ids = [t["task_id"] for t in status["tasks"]]
            refused = await client.call_tool("apply_validated_patch", {"task_id": ids})
            untouched = (repo / "calc.py").read_text()
            applied = await call(client, "apply_validated_patch", {"task_id": ids[:1]})
    assert [t["status"] for t in status["tasks"]] == ["succeeded", "succeeded"], status["tasks"]
    assert status["shared_files"] == {"calc.py": ["one", "two"]}
    message = reply_text(refused)
    assert refused.is_error and "conflicts with task(s)" in message and "nothing was applied" in message, message
    assert untouched == BUGGY
    assert applied["applied"] == ids[:1] and "return a + b" in (repo / "calc.py").read_text()


async def test_a_policy_makes_agent_mode_the_default_for_its_kinds_of_work_unless_the_task_says_patch(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("replace_text", 1, path="calc.py", old="return a - b\n\n\ndef sub", new="return a + b\n\n\ndef sub"),
            tool("done", 2),
        ])
        lp.script("mid-a", [Reply("```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n def add(a, b):\n"
                                  "-    return a - b\n+    return a + b\n \n```")])
        env = loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path))
        with (tmp_path / "manifests" / "loop.toml").open("a", encoding="utf-8") as manifest:
            manifest.write('\n[[policies]]\nname = "agentic"\nmax_cost_per_task = 1.0\nmax_tokens = 2000\n'
                           'temperature = 0.2\nagent_task_types = ["bug_fix"]\n')
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"policy": "agentic", "tasks": [
                {"id": "by-policy", "agent_type": "tcoder_speed", "workspace": str(repo),
                 "task_description": "Fix add() in calc.py so the tests pass", "validate": {"checks": ["test"]}},
                {"id": "patch", "agent_type": "tcoder_balanced", "workspace": str(repo), "mode": "patch",
                 "task_description": "Fix add() in calc.py so the tests pass", "validate": {"checks": ["test"]}},
            ]})
            status = await wait_finished(client, submitted["group_id"])
        speed_requests = [r.json for r in lp.requests_for("fast-a")]
        mid_requests = [r.json for r in lp.requests_for("mid-a")]
    assert {t["id"]: t["status"] for t in status["tasks"]} == {"by-policy": "succeeded", "patch": "succeeded"}, [
        (t["id"], t["error"]) for t in status["tasks"]]
    assert speed_requests and all("tools" in r for r in speed_requests)  # agent mode by the policy
    assert mid_requests and all("tools" not in r for r in mid_requests)  # the task's own mode won


async def test_an_agent_that_tries_to_escape_or_never_finishes_is_refused_and_stopped_at_its_turn_bound(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    escape_diff = "--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1 +1 @@\n-keep me\n+owned\n"
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            tool("read_file", 1, path="../outside.txt"),
            tool("replace_text", 2, path=str(outside), old="keep me", new="owned"),
            tool("apply_diff", 3, diff=escape_diff),
            tool("replace_text", 4, path=".git/config", old="", new="[core]\n"),
        ], default=tool("list_dir", 9, path=""))  # then it lists the root forever
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_speed", "task_description": "Fix add() in calc.py", "workspace": str(repo),
                "mode": "agent", "validate": {"checks": ["test"], "max_rounds": 1, "agent": {"max_turns": 6}},
            }]})
            status = await wait_finished(client, submitted["group_id"])
        requests = [r.json for r in lp.requests_for("fast-a")]
    (task,) = status["tasks"]
    assert task["status"] == "failed"  # nothing changed, so nothing passed its checks
    agent = next(a["validation"]["agent"] for a in task["attempts"] if a.get("validation"))
    assert agent["stop_reason"] == "turns" and agent["turns"] == 6
    assert [s["ok"] for s in agent["steps"]][:4] == [False] * 4
    assert all(s["outcome"].startswith("refused") for s in agent["steps"][:4])
    assert len(requests) == 6
    assert outside.read_text() == "keep me\n" and (repo / "calc.py").read_text() == BUGGY


async def test_an_agent_on_an_anthropic_model_resends_its_history_byte_for_byte_with_cache_breakpoints(
    tmp_path: Path,
) -> None:
    """The real catalogue's Anthropic models, the Messages API on the loopback: every turn marks
    the system prompt and its last two messages, and every earlier message goes out exactly as in
    the turn before (the precondition for reading the cached prefix)."""
    repo = _project(tmp_path)
    script = [
        tool("read_file", 1, path="calc.py", start_line=1, end_line=2),
        tool("replace_text", 2, path="calc.py", old="return a - b\n\n\ndef sub", new="return a + b\n\n\ndef sub"),
        tool("run_checks", 3),
        tool("done", 4, summary="add() adds"),
    ]

    def turn(request: Any) -> Reply:
        done = sum(1 for m in request.json["messages"] if m["role"] == "assistant")
        return script[min(done, len(script) - 1)]

    with LoopbackProvider() as lp:
        lp.set_default(Respond(turn))
        env = isolated_env(tmp_path, PWM_ALLOWED_ROOTS=str(tmp_path), ANTHROPIC_API_KEY="ak-test",
                           ANTHROPIC_BASE_URL=lp.base_url)
        async with Client(build_server(load_settings(env))) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "aria_coder_quality", "task_description": "Fix add() in calc.py so the tests pass",
                "workspace": str(repo), "mode": "agent", "validate": {"checks": ["test"]},
            }]})
            status = await wait_finished(client, submitted["group_id"])
        bodies = [r.json for r in lp.requests if r.path.endswith("/messages")]
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", task.get("error")
    assert len(bodies) == 4

    def plain(message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "content": [{k: v for k, v in b.items() if k != "cache_control"} for b in message["content"]]}

    for before, after in zip(bodies, bodies[1:], strict=False):
        assert after["system"] == before["system"] and after["system"][-1]["cache_control"] == {"type": "ephemeral"}
        kept = before["messages"]
        assert [plain(m) for m in after["messages"][:len(kept)]] == [plain(m) for m in kept]
        marked = [i for i, m in enumerate(after["messages"]) if any("cache_control" in b for b in m["content"])]
        assert marked == [len(after["messages"]) - 2, len(after["messages"]) - 1]
