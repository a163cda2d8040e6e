"""The agent loop in a real git worktree, with a scripted model deciding each turn."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from server.agent import AgentBounds, AgentReply, AgentTools, AgentWorkspace, run_agent
from server.agent.tools import git_grep
from server.backends.base import ChatMessage, ToolCall, ToolSpec
from tests.validation.helpers import base_env, make_repo

PROJECT = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1.0"\n',
    "shop/__init__.py": "",
    "shop/prices.py": "def total(prices):\n    return sum(prices)\n\n\ndef discount(total, pct):\n    return total\n",
    "tests/test_prices.py": (
        "from shop.prices import discount, total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n\n\n"
        "def test_discount():\n    assert discount(100, 10) == 90\n"
    ),
}


class Script:
    """A model stand-in: each turn returns the next scripted reply and records what it saw."""

    def __init__(self, replies: Sequence[AgentReply]) -> None:
        self.replies = list(replies)
        self.seen: list[list[ChatMessage]] = []

    async def __call__(self, messages: list[ChatMessage], tools: Sequence[ToolSpec]) -> AgentReply:
        self.seen.append(list(messages))
        if not self.replies:
            return AgentReply("", (ToolCall("x", "list_dir", json.dumps({"path": ""})),), 10, 5, 0.001)
        return self.replies.pop(0)


def call(name: str, n: int, **arguments: Any) -> AgentReply:
    return AgentReply("", (ToolCall(f"c{n}", name, json.dumps(arguments)),), input_tokens=100, output_tokens=20, cost_usd=0.0001)


def last_tool_output(messages: list[ChatMessage]) -> str:
    return next(m.content for m in reversed(messages) if m.role == "tool")


async def test_an_agent_reads_edits_sees_the_failure_fixes_it_and_ends_with_a_passing_patch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    script = Script([
        call("read_file", 1, path="shop/prices.py", start_line=5, end_line=6),
        call("replace_text", 2, path="shop/prices.py", old="    return total\n", new="    return total * pct / 100\n"),
        call("run_checks", 3),
        call("replace_text", 4, path="shop/prices.py", old="total * pct / 100", new="total * (100 - pct) / 100"),
        call("run_checks", 5),
        call("done", 6, summary="discount applies the percentage"),
    ])
    async with await AgentWorkspace.create(repo, task_id="t-fix", env=base_env()) as ws:
        tools = AgentTools(ws, checks=("test",), base_env=base_env())
        messages = [ChatMessage("user", "Make discount() apply its percentage.")]
        result = await run_agent(script, tools, messages, AgentBounds(max_turns=10))
    assert result.stop_reason == "done"
    assert result.checks_passed is True
    # the model saw the function it read, and the failing test after its first edit
    assert "return total" in last_tool_output(script.seen[1])
    assert "test_discount" in last_tool_output(script.seen[3])
    assert "+    return total * (100 - pct) / 100" in result.diff
    assert [s.tool for s in result.steps] == ["read_file", "replace_text", "run_checks", "replace_text",
                                              "run_checks", "done"]
    assert [s.ok for s in result.steps] == [True] * 6
    assert result.turns == 6 and result.input_tokens == 600 and abs(result.cost_usd - 0.0006) < 1e-9
    # the user's own tree is untouched and the agent's branch is gone
    assert "return total\n" in (repo / "shop/prices.py").read_text()
    assert not (repo / ".git/refs/heads/pwm/agent/t-fix").exists()


async def test_an_agent_cannot_escape_its_worktree(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    token = "ghp_" + "Zq8" * 12  # a token-shaped secret inside an ordinary source file
    repo = make_repo(tmp_path / "repo", {**PROJECT, ".env": "API_KEY=sk-canary-123\n",
                                         "shop/settings.py": f"DEBUG = True\nGITHUB_TOKEN = '{token}'\n"})
    os.symlink(outside, repo / "link.txt")
    from tests.validation.helpers import commit_all

    commit_all(repo, "add a link")
    escape_diff = "--- a/../outside.txt\n+++ b/../outside.txt\n@@ -1 +1 @@\n-keep me\n+owned\n"
    script = Script([
        call("read_file", 1, path="../outside.txt"),
        call("read_file", 2, path=str(outside)),
        call("replace_text", 3, path="link.txt", old="keep me", new="owned"),
        call("replace_text", 4, path=".git/config", old="", new="[core]\n"),
        call("apply_diff", 5, diff=escape_diff),
        call("read_file", 6, path=".env"),
        call("search", 7, query="canary"),
        call("read_file", 8, path="shop/settings.py"),
        call("search", 9, query="GITHUB_TOKEN"),
        call("read_file", 10, path="shop/settings.py", start_line=1, end_line=1),
        call("done", 11),
    ])
    async with await AgentWorkspace.create(repo, task_id="t-escape", env=base_env()) as ws:
        result = await run_agent(script, AgentTools(ws, base_env=base_env()), [ChatMessage("user", "x")])
    outputs = [m.content for m in script.seen[-1] if m.role == "tool"]
    assert all(o.startswith("refused") for o in outputs[:6]), outputs
    assert "sk-canary" not in "".join(outputs) and token not in "".join(outputs)
    assert outputs[7].startswith("refused") and "secret" in outputs[7]
    assert outputs[8] == "no matches"
    assert "DEBUG = True" in outputs[9]
    assert outside.read_text() == "keep me\n"
    assert result.diff == ""
    assert [s.ok for s in result.steps][:6] == [False] * 6


async def test_an_agent_that_never_finishes_stops_at_its_turn_bound_and_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    script = Script([])  # lists the root forever
    async with await AgentWorkspace.create(repo, task_id="t-loop", env=base_env()) as ws:
        result = await run_agent(script, AgentTools(ws), [ChatMessage("user", "x")], AgentBounds(max_turns=4))
    assert result.stop_reason == "turns"
    assert result.turns == 4 and result.steps_total == 4


async def test_an_agent_stops_at_its_cost_bound(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    script = Script([])
    async with await AgentWorkspace.create(repo, task_id="t-cost", env=base_env()) as ws:
        result = await run_agent(script, AgentTools(ws), [ChatMessage("user", "x")],
                                 AgentBounds(max_turns=50, max_cost_usd=0.0025))
    assert result.stop_reason == "cost"
    assert result.turns == 3


async def test_two_parallel_agents_on_one_file_each_work_in_their_own_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)

    async def agent(task_id: str, new: str) -> tuple[str, str]:
        script = Script([
            call("replace_text", 1, path="shop/prices.py", old="    return sum(prices)\n", new=new),
            call("done", 2),
        ])
        async with await AgentWorkspace.create(repo, task_id=task_id, env=base_env()) as ws:
            result = await run_agent(script, AgentTools(ws), [ChatMessage("user", "x")])
            return ws.branch, result.diff

    (b1, d1), (b2, d2) = await asyncio.gather(
        agent("t-a", "    return float(sum(prices))\n"), agent("t-b", "    return round(sum(prices), 2)\n"))
    assert b1 != b2
    assert "float(sum(prices))" in d1 and "round(" not in d1
    assert "round(sum(prices), 2)" in d2 and "float(" not in d2


async def test_replace_text_takes_old_lines_written_with_other_whitespace_and_keeps_the_files(tmp_path: Path) -> None:
    nested = "class Cart:\n    def total(self, items):\n        if items:\n            return sum(items)\n        return 0\n"
    repo = make_repo(tmp_path / "repo", {**PROJECT, "shop/cart.py": nested})
    async with await AgentWorkspace.create(repo, task_id="t-ws", env=base_env()) as ws:
        tools = AgentTools(ws, checks=("test",), base_env=base_env())
        # a method's lines quoted without their indentation, as models often do
        moved = await tools.call("replace_text", {
            "path": "shop/cart.py", "old": "if items:\n    return sum(items)\n",
            "new": "if items:\n    return round(sum(items), 2)\n"})
        missing = await tools.call("replace_text", {"path": "shop/cart.py", "old": "if items:\n    return 0\n",
                                                    "new": "x"})
        text = (ws.path / "shop/cart.py").read_text()
    assert moved.ok and "other whitespace" in moved.output, moved.output
    assert text == nested.replace("return sum(items)", "return round(sum(items), 2)")
    assert not missing.ok and "not in the file" in missing.output


async def test_apply_diff_makes_a_new_file_where_its_git_style_header_says(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    new_file = "--- /dev/null\n+++ b/shop/tax.py\n@@ -0,0 +1,2 @@\n+def tax(total):\n+    return total * 0.2\n"
    sql = "--- a/shop/prices.py\n+++ b/shop/prices.py\n@@ -1,2 +1,2 @@\n-def total(prices):\n+def total(prices):  # -- sum\n     return sum(prices)\n"
    async with await AgentWorkspace.create(repo, task_id="t-new", env=base_env()) as ws:
        tools = AgentTools(ws, checks=("test",), base_env=base_env())
        made = await tools.call("apply_diff", {"diff": new_file})
        edited = await tools.call("apply_diff", {"diff": sql})
        assert made.ok and edited.ok, (made.output, edited.output)
        assert (ws.path / "shop/tax.py").is_file() and not (ws.path / "b").exists()


async def test_a_search_with_more_hits_than_it_shows_shows_the_first_ones(tmp_path: Path) -> None:
    files = {f"pkg/m{i:04d}.py": f"NEEDLE = '{'x' * 60}'\n" for i in range(1500)}  # ~130 KB of hits
    repo = make_repo(tmp_path / "repo", files)
    hits = await git_grep(repo, "needle", 3)
    assert [h.split(":", 1)[0] for h in hits] == ["pkg/m0000.py", "pkg/m0001.py", "pkg/m0002.py"]


async def test_an_agent_s_lint_check_reports_the_findings_its_edits_add_not_the_repository_s_old_ones(
    tmp_path: Path,
) -> None:
    untidy = "import os\n\n\ndef helper():\n    return 2\n"  # F401, there before the agent came
    repo = make_repo(tmp_path / "repo", {**PROJECT, "shop/util.py": untidy})
    edit = {"path": "shop/prices.py", "old": "    return total\n", "new": "    return total * (100 - pct) / 100\n"}
    async with await AgentWorkspace.create(repo, task_id="t-lint", env=base_env()) as ws:
        tools = AgentTools(ws, checks=("lint",), base_env=base_env())
        assert (await tools.replace_text(edit)).ok
        own = await tools.run_checks({})
        everything = await AgentTools(ws, checks=("lint",), base_env=base_env(), lint_scope="all").run_checks({})
        assert (await tools.replace_text({"path": "shop/prices.py", "old": "def total", "new": "import sys\n\n\ndef total"})).ok
        added = await tools.run_checks({})
    assert own.checks_passed and own.output == "All checks passed."
    assert not everything.checks_passed and "shop/util.py:1:8: F401" in everything.output
    assert not added.checks_passed and "shop/prices.py:1:8: F401" in added.output and "util.py" not in added.output


async def test_an_agent_in_a_folder_of_a_monorepo_checks_that_folder_and_may_name_files_from_it(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "mono", {
        "svc/pyproject.toml": '[project]\nname = "svc"\nversion = "0"\n',
        "svc/calc.py": "def add(a, b):\n    return a - b\n",
        "svc/tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "web/pyproject.toml": '[project]\nname = "web"\nversion = "0"\n',
        "web/tests/test_app.py": "def test_fails():\n    assert False\n",  # not the task's business
    })
    new_file = "--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1 @@\n+fixed add\n"
    async with await AgentWorkspace.create(repo / "svc", task_id="t-mono", env=base_env()) as ws:
        tools = AgentTools(ws, checks=("test",), base_env=base_env())
        from_folder = await tools.read_file({"path": "calc.py"})
        from_root = await tools.read_file({"path": "svc/calc.py"})
        fixed = await tools.replace_text({"path": "calc.py", "old": "return a - b", "new": "return a + b"})
        noted = await tools.apply_diff({"diff": new_file})
        checked = await tools.run_checks({})
        diff = await ws.diff()
    assert ws.folder == "svc/"
    assert from_folder.ok and from_root.ok and "return a - b" in from_folder.output
    assert fixed.ok and noted.ok, noted.output
    assert checked.checks_passed, checked.output  # svc's tests only: web's failing test is not run
    assert "+++ b/svc/calc.py" in diff and "+++ b/svc/notes.txt" in diff


async def test_an_agent_is_told_when_no_check_could_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"pyproject.toml": PROJECT["pyproject.toml"], "shop/prices.py": "X = 1\n"})
    async with await AgentWorkspace.create(repo, task_id="t-none", env=base_env()) as ws:
        outcome = await AgentTools(ws, checks=("test",), base_env=base_env()).run_checks({})
    assert not outcome.checks_passed and outcome.output.startswith("No check could run (pytest: no test files")


async def test_an_agent_s_run_checks_tells_the_tests_failing_before_its_edits_apart(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", PROJECT)  # test_discount fails on this commit already
    said: dict[str, str] = {}
    passed: dict[str, bool | None] = {}
    for scope in ("all", "new"):
        async with await AgentWorkspace.create(repo, task_id=f"t-{scope}", env=base_env()) as ws:
            tools = AgentTools(ws, checks=("test",), base_env=base_env(), test_scope=scope)
            (ws.path / "shop" / "prices.py").write_text(
                "def total(prices):\n    \"\"\"Sum.\"\"\"\n    return sum(prices)\n\n\ndef discount(total, pct):\n    return total\n")
            outcome = await tools.run_checks({})
            said[scope], passed[scope] = outcome.output, outcome.checks_passed
    assert passed == {"all": False, "new": True}
    assert "already failing at" in said["all"] and "tests.test_prices::test_discount" in said["all"]
    assert said["new"].startswith("All checks passed.") and "failed before your change too" in said["new"]
    assert "test_discount" in said["new"]
