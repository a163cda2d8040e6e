"""Test-first over MCP: tests that already pass are rejected with the reason, accepted tests are
the implementation's check, and an implementation that edits them fails its attempt."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.replies import reply_text

CALC = "def add(a, b):\n    return a + b\n"


def new_file(path: str, text: str) -> str:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"```diff\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}```"


PASSING_TESTS = new_file("test_add.py", "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3")
GOOD_TESTS = new_file("test_mul.py", "import calc\n\n\ndef test_mul():\n    assert calc.mul(2, 3) == 6")
EDITS_TESTS = "```diff\n" + "\n".join([
    "--- a/test_mul.py", "+++ b/test_mul.py", "@@ -1,5 +1,5 @@", " import calc", " ", " ", " def test_mul():",
    "-    assert calc.mul(2, 3) == 6", "+    assert True"]) + "\n```"
IMPLEMENTATION = """```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,6 @@
 def add(a, b):
     return a + b
+
+
+def mul(a, b):
+    return a * b
```"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def _project(root: Path) -> Path:
    repo = root / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "add")
    return repo


async def test_passing_tests_are_rejected_and_an_implementation_editing_the_tests_fails_its_attempt(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply(PASSING_TESTS)])
        lp.script("mid-a", [Reply(GOOD_TESTS), Reply(EDITS_TESTS)])
        lp.script("best-a", [Reply(IMPLEMENTATION)])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_balanced", "task_description": "Add mul(a, b) to calc.py",
                "workspace": str(repo), "test_first": True,
            }]})
            status = await wait_finished(client, submitted["group_id"])
        implementer_prompt = lp.requests_for("best-a")[0].prompt
        writer_prompt = lp.requests_for("fast-a")[0].prompt
    (task,) = status["tasks"]
    assert task["status"] == "succeeded", task
    verdicts = [(a["model"], a["validation"]["status"]) for a in task["attempts"]]
    # the cheap variant wrote the tests first although the task runs on the balanced one
    assert verdicts == [("loopa/fast", "tests_rejected"), ("loopa/mid", "passed"),
                        ("loopa/mid", "edits_tests"), ("loopa/best", "passed")]
    assert "pass on the current code" in task["attempts"][0]["validation"]["error"]
    assert "test_mul.py" in task["attempts"][2]["validation"]["error"]
    assert "ONLY the tests" in writer_prompt
    assert "calc.mul(2, 3) == 6" in implementer_prompt and "may not be edited" in implementer_prompt
    # the handed-back patch is the tests and the implementation together; the tree is untouched
    assert "+++ b/test_mul.py" in task["result"] and "+def mul(a, b):" in task["result"]
    assert not (repo / "test_mul.py").exists()


async def test_test_first_without_a_workspace_is_refused_naming_the_field(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            result = await client.call_tool("submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_speed", "task_description": "Add mul", "test_first": True}]})
    assert result.is_error
    text = reply_text(result)
    assert "tasks[0].test_first" in text and "workspace" in text
