"""The seed's "fix the build, keep working" as one group: a validated task must make the tests
pass, an independent task runs beside it, and the task depending on the fix waits for its check
and is itself checked on the fixed build."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, task_of, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.workflows.roles import script_roles

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def patch(old: str, new: str) -> str:
    return f"```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-{old}\n+{new}\n```"


def new_files(files: dict[str, str]) -> str:
    out = []
    for path, text in files.items():
        lines = text.splitlines()
        out.append(f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{x}\n" for x in lines))
    return "```diff\n" + "".join(out) + "```"


FEATURE = new_files({"mul.py": "def mul(a, b):\n    return a * b",
                     "test_mul.py": "from mul import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6"})


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
    _git(repo, "commit", "-qm", "broken build")
    return repo


async def test_the_fix_and_an_independent_task_run_together_and_the_dependent_waits_for_the_fix_check(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        script_roles(lp, "fast-a", {"FEATURE": [Reply(FEATURE)], "FIX-BUILD": [Reply(patch("    return a - b",
                                    "    return a * b"))], "DOCS": [Reply("Changelog: add() fixed.")]})
        script_roles(lp, "mid-a", {"FIX-BUILD": [Reply(patch("    return a - b", "    return a + b"))]})
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        validated = {"workspace": str(repo), "validate": {"checks": ["test"]}}
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "fix", "agent_type": "tcoder_speed", "task_description": "FIX-BUILD: make the tests pass",
                 **validated},
                {"id": "docs", "agent_type": "tcoder_speed", "task_description": "DOCS: write a changelog line"},
                {"id": "feature", "agent_type": "tcoder_speed", "depends_on": ["fix"],
                 "task_description": "FEATURE: add mul(a, b) in mul.py with a test", **validated},
            ]})
            status = await wait_finished(client, submitted["group_id"])
            applied = await call(client, "apply_validated_patch", {
                "task_id": [task_of(status, "fix")["task_id"], task_of(status, "feature")["task_id"]]})
        requests = lp.requests
    assert status["status"] == "succeeded", [(t["id"], t["status"], t["error"]) for t in status["tasks"]]
    fix, feature = task_of(status, "fix"), task_of(status, "feature")
    assert [a["validation"]["status"] for a in fix["attempts"]] == ["failed", "passed"]

    def first(marker: str) -> float:
        return min(r.time for r in requests if marker in r.prompt and "FEATURE" not in r.prompt)

    fixed_at = max(r.time for r in requests if "FIX-BUILD" in r.prompt and "FEATURE" not in r.prompt)
    assert first("DOCS") < fixed_at  # the independent task did not wait for the fix
    feature_asked = min(r.time for r in requests if "FEATURE" in r.prompt)
    assert feature_asked > fixed_at  # the dependent waited for the fix's passing check
    # the feature was checked on the fixed build (the whole suite passed), and hands back only its own files
    (check,) = feature["attempts"]
    assert check["validation"]["passed"] and check["validation"]["files_changed"] == ["mul.py", "test_mul.py"]
    assert "calc.py" not in feature["result"]
    assert applied["files"] == ["calc.py", "mul.py", "test_mul.py"]
    tests = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    str(repo)], capture_output=True, text=True, cwd=repo)
    assert tests.returncode == 0, tests.stdout
