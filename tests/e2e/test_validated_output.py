"""A task whose patch must pass its checks: the speed model's patch fails the project's tests, the
feedback goes to a stronger model, and its patch passes — all in a temporary worktree."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"

WRONG_PATCH = """```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a * b
```"""
RIGHT_PATCH = """```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
```"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _project(root: Path) -> Path:
    repo = root / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(BUGGY)
    (repo / "test_calc.py").write_text(TEST)
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "buggy add")
    return repo


async def _fix_add(client: Client, repo: Path) -> dict[str, Any]:
    """Submit the validated fix of add() and wait for it: the task's status."""
    submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
        "agent_type": "tcoder_speed", "task_description": "Fix add() in calc.py so the tests pass",
        "workspace": str(repo), "validate": {"checks": ["test"], "max_rounds": 3},
    }]})
    status = await wait_finished(client, submitted["group_id"])
    (task,) = status["tasks"]
    return dict(task)


async def test_failed_checks_escalate_with_feedback_until_a_patch_passes(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply(WRONG_PATCH)])
        lp.script("mid-a", [Reply(WRONG_PATCH)])
        lp.script("best-a", [Reply(RIGHT_PATCH)])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            task = await _fix_add(client, repo)
            untouched = (repo / "calc.py").read_text()
            (repo / "test_calc.py").write_text(TEST + "\n# local edit\n")
            refused = await client.call_tool("apply_validated_patch", {"task_id": task["task_id"]})
            (repo / "test_calc.py").write_text(TEST)
            applied = await call(client, "apply_validated_patch", {"task_id": task["task_id"]})
    refusal = refused.content[0].text.lower()  # type: ignore[union-attr]
    assert refused.is_error and ("uncommitted" in refusal or "dirty" in refusal), refusal
    assert applied["files"] == ["calc.py"]
    assert "return a + b" in (repo / "calc.py").read_text()

    assert task["status"] == "succeeded", task
    assert task["model_used"] == "loopa/best"
    assert (task["variant"], task["agent_name"]) == ("quality", "tcoder_quality")  # the variant that answered
    assert "+    return a + b" in task["result"]
    verdicts = [(a["model"], a["validation"]["status"]) for a in task["attempts"]]
    assert verdicts == [("loopa/fast", "failed"), ("loopa/mid", "failed"), ("loopa/best", "passed")]
    failing = task["attempts"][0]["validation"]["checks"]
    assert any(c["name"] == "pytest" and c["status"] == "failed" for c in failing)
    # The stronger models were told what failed.
    assert "unified diff" in lp.requests_for("fast-a")[0].prompt  # the first model was asked for a patch
    retry_prompt = lp.requests_for("mid-a")[0].prompt
    assert "checks failed" in retry_prompt and "a * b" in retry_prompt
    # The user's tree was untouched until the explicit apply.
    assert untouched == BUGGY


EDIT_BLOCKS = """The sign is wrong.

calc.py
```python
<<<<<<< SEARCH
    return a - b
=======
    return a + b
>>>>>>> REPLACE
```"""


async def test_an_answer_of_search_replace_blocks_passes_on_the_cheap_model_and_applies(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply(EDIT_BLOCKS)])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            task = await _fix_add(client, repo)
            applied = await call(client, "apply_validated_patch", {"task_id": task["task_id"]})
    assert task["status"] == "succeeded", task
    assert [(a["model"], a["validation"]["status"]) for a in task["attempts"]] == [("loopa/fast", "passed")]
    assert "+    return a + b" in task["result"] and "<<<<<<<" not in task["result"]
    assert applied["files"] == ["calc.py"] and "return a + b" in (repo / "calc.py").read_text()
    assert not lp.requests_for("mid-a") and not lp.requests_for("best-a")
    assert "<<<<<<< SEARCH" in lp.requests_for("fast-a")[0].prompt  # the form is offered, not only accepted
