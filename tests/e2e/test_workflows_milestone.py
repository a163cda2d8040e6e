"""A milestone on a real small repository: the planner's malformed plan is asked for again with
its problems, the valid plan of four checked items runs as a group, the last item waits for the
other three, and every item ends with its check passing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import call, task_of, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.replies import reply_text
from tests.workflows.roles import script_roles

PLANNER = "Break this milestone"


def new_files(files: dict[str, str]) -> Reply:
    out = []
    for path, text in files.items():
        lines = text.splitlines()
        out.append(f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{x}\n" for x in lines))
    return Reply("```diff\n" + "".join(out) + "```")


def plan(items: list[dict[str, object]]) -> Reply:
    return Reply("Here is the plan.\n```json\n" + json.dumps({"items": items}) + "\n```")


def item(key: str, title: str, depends_on: list[str], **check: object) -> dict[str, object]:
    return {"id": key, "title": title, "description": f"{title} as described", "depends_on": depends_on,
            "size": "small", "check": check}


MALFORMED = plan([item("slug", "ITEM-SLUG", ["readme"], files=["slug.py"]),
                  item("readme", "ITEM-README", ["slug"], files=["README.md"])])
VALID = plan([
    item("slug", "ITEM-SLUG slugify()", [], tests=["test_slug.py"], files=["slug.py", "test_slug.py"]),
    item("count", "ITEM-COUNT word_count()", [], files=["count.py"]),
    item("title", "ITEM-TITLE title_case()", [], command="python -m pytest -q test_title.py"),
    item("readme", "ITEM-README document the helpers", ["slug", "count", "title"], files=["README.md"]),
])
ANSWERS = {
    "ITEM-README": [new_files({"README.md": "# textkit\n\nslugify, word_count, title_case"})],
    "ITEM-SLUG": [new_files({"slug.py": "def slugify(s):\n    return '-'.join(s.lower().split())",
                             "test_slug.py": "from slug import slugify\n\n\ndef test_slug():\n"
                                             "    assert slugify('A b') == 'a-b'"})],
    "ITEM-COUNT": [new_files({"count.py": "def word_count(s):\n    return len(s.split())"})],
    "ITEM-TITLE": [new_files({"title.py": "def title_case(s):\n    return s.title()",
                              "test_title.py": "from title import title_case\n\n\ndef test_title():\n"
                                               "    assert title_case('a b') == 'A B'"})],
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def _project(root: Path) -> Path:
    repo = root / "textkit"
    repo.mkdir()
    (repo / "core.py").write_text("def strip(s):\n    return s.strip()\n")
    (repo / "test_core.py").write_text("from core import strip\n\n\ndef test_strip():\n    assert strip(' a ') == 'a'\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "core")
    return repo


async def test_a_milestone_becomes_four_checked_items_that_run_until_every_check_passes(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        script_roles(lp, "fast-a", {PLANNER: [MALFORMED, VALID], **ANSWERS})
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            planned = await call(client, "plan_milestone", {
                "milestone": "Text helpers: slugify, word_count, title_case, documented", "workspace": str(repo),
                "agent_type": "tcoder_speed", "submit": True})
            status = await wait_finished(client, planned["group_id"])
        planner_prompts = [r.prompt for r in lp.requests_for("fast-a") if PLANNER in r.prompt]
    assert len(planned["planner_groups"]) == 2
    assert any("cycle" in p for p in planned["retried_for"]), planned["retried_for"]
    assert "rejected for these problems" in planner_prompts[1] and "cycle" in planner_prompts[1]
    # the planner is shown the repository's summary: every file, and the relevant ones' signatures
    assert all("### Workspace summary" in p and "test_core.py" in p and "def strip(s):" in p for p in planner_prompts)
    assert [i["id"] for i in planned["items"]][-1] == "readme" and len(planned["items"]) == 4
    assert planned["items"][2]["command"] == ["python", "-m", "pytest", "-q", "test_title.py"]

    assert status["status"] == "succeeded", [(t["id"], t["status"], t["error"]) for t in status["tasks"]]
    for task in status["tasks"]:
        (attempt,) = task["attempts"]
        assert attempt["validation"]["passed"], task
    readme = task_of(status, "readme")
    assert readme["depends_on"] == ["slug", "count", "title"]
    assert readme["attempts"][0]["validation"]["files_changed"] == ["README.md"]


async def test_a_plan_malformed_twice_is_reported_naming_its_problems(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [MALFORMED, Reply("no plan here")])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            result = await client.call_tool("plan_milestone", {
                "milestone": "Text helpers", "workspace": str(repo), "agent_type": "tcoder_speed"})
            missing = await client.call_tool("plan_milestone", {"milestone": "Text helpers"})
    assert result.is_error
    text = reply_text(result)
    assert "malformed twice" in text and "no JSON" in text
    assert missing.is_error and "workspace" in reply_text(missing)


async def test_an_item_whose_patch_leaves_its_file_unchanged_fails_its_check_and_blocks_its_dependents(
    tmp_path: Path,
) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        wrong = new_files({"other.py": "x = 1"})
        script_roles(lp, "fast-a", {PLANNER: [plan([item("count", "ITEM-COUNT", [], files=["count.py"]),
                                                    item("readme", "ITEM-README", ["count"], files=["README.md"])])],
                                    "ITEM-COUNT": [wrong]})
        for model in ("mid-a", "best-a"):
            script_roles(lp, model, {"ITEM-COUNT": [wrong]})
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            planned = await call(client, "plan_milestone", {
                "milestone": "Counting", "workspace": str(repo), "agent_type": "tcoder_speed", "submit": True})
            status = await wait_finished(client, planned["group_id"])
    count, readme = task_of(status, "count"), task_of(status, "readme")
    assert count["status"] == "failed"
    assert {a["validation"]["status"] for a in count["attempts"]} == {"files_unchanged"}
    assert "count.py" in count["attempts"][0]["validation"]["error"]
    assert readme["status"] == "skipped" and "count" in readme["error"]
    assert readme["blocked_by"] == ["count"] and count["blocked_by"] == []
