"""A validated task that depends on another validated task of the same workspace is checked with
that task's patch applied first, so it is shown the code as that patch leaves it and asked for a
diff against it: a model answering against the code it was shown passes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from server.scheduler.dependency_view import Hunk, moved_range
from server.settings import load_settings
from tests.e2e.helpers import call, wait_finished
from tests.e2e.test_agent_mode import tool
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply

CALC = "import math\n\n\ndef add(a, b):\n    return a - b\n\n\ndef floor_half(x):\n    return math.floor(x / 2)\n" + "".join(
    f"\n\ndef scale_{n}(x):\n    return x * {n}\n" for n in range(250))  # too long to be shown whole
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"

def _diff(*hunk: str) -> str:
    return "```diff\n--- a/calc.py\n+++ b/calc.py\n" + "\n".join(hunk) + "\n```"


FIX = _diff("@@ -1,5 +1,7 @@", " import math", "+", "+ZERO = 0", " ", " ", " def add(a, b):", "-    return a - b",
            "+    return a + b")
# Written against the code as FIX leaves it: the lines it changes are FIX's, two lines further down
# (a cheap model's hunk header is often off: this one says line 1, and goes in by its text).
DIGITS = {
    "diff": _diff("@@ -1,6 +1,6 @@", " ", " ", " def add(a, b):", "-    return a + b", "+    return int(a) + int(b)",
                  " ", " "),
    "search-replace": ("calc.py\n```python\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\n"
                       "def add(a, b):\n    return int(a) + int(b)\n>>>>>>> REPLACE\n```"),
}


def _pieces(prompt: str, path: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of each piece of `path` in a rendered selection."""
    found = re.findall(rf"^### {re.escape(path)} \(lines (\d+)-(\d+)\)\n```python\n(.*?)^```$", prompt, re.M | re.S)
    return [(int(a), int(b), text) for a, b, text in found]


def _project(root: Path) -> Path:
    repo = root / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST)
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "buggy add"]):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True)
    return repo


@pytest.mark.parametrize("form", sorted(DIGITS))
async def test_a_dependent_validated_task_is_shown_and_checked_on_its_dependency_s_patch(tmp_path: Path,
                                                                                       form: str) -> None:
    repo = _project(tmp_path)
    check = {"checks": ["test"], "max_rounds": 1}
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply(FIX), Reply(DIGITS[form]), Reply("It takes digits now.")])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "fix", "agent_type": "tcoder_speed", "workspace": str(repo), "validate": check,
                 "task_description": "Fix add() in calc.py so the tests pass"},
                {"id": "digits", "agent_type": "tcoder_speed", "workspace": str(repo), "validate": check,
                 "depends_on": ["fix"], "files": ["calc.py:4-5"], "context_budget_tokens": 300,
                 "task_description": "Make add() in calc.py also accept strings of digits"},
            ]})
            status = await wait_finished(client, submitted["group_id"])
            ids = [t["task_id"] for t in sorted(status["tasks"], key=lambda t: t["id"] != "fix")]
            await call(client, "continue_task", {"task_id": ids[1], "message": "What did you change?"})
            applied = await call(client, "apply_validated_patch", {"task_id": ids})
    by_id = {t["id"]: t for t in status["tasks"]}
    assert by_id["fix"]["status"] == "succeeded", by_id["fix"]
    assert by_id["digits"]["status"] == "succeeded", by_id["digits"]
    opening, follow_up = [r.messages for r in lp.requests if "strings of digits" in str(r.json)]
    asked = opening[-1]["content"]
    assert follow_up[:len(opening)] == opening  # the follow-up's thread opens with the prompt as it was sent
    shown = asked.split("## Results of the tasks this one depends on")[0]
    assert "with the changes of the tasks this one depends on applied" in shown
    after_fix = CALC.replace("import math\n", "import math\n\nZERO = 0\n", 1).replace("a - b", "a + b").split("\n")
    pieces = _pieces(shown, "calc.py")
    assert any("def add(a, b):\n    return a + b\n" in text for _, _, text in pieces), shown
    for first, last, text in pieces:  # every piece is the patched file's lines under their own numbers
        assert text == "\n".join(after_fix[first - 1:last]) + "\n", (first, last, text)
    assert "return a - b" not in shown
    assert "against the code shown above (the repository's HEAD with the changes" in asked
    assert applied["applied"], applied  # the two patches, one after the other, on the user's checkout
    assert "    return int(a) + int(b)\n" in (repo / "calc.py").read_text() and "ZERO = 0" in (repo / "calc.py").read_text()


def test_a_range_moves_with_the_lines_added_before_it_and_widens_over_a_change_inside_it() -> None:
    inserted_before = [Hunk(2, 0, 3, 2)]  # two lines after line 2
    assert moved_range(4, 5, inserted_before) == (6, 7)
    assert moved_range(1, 2, inserted_before) == (1, 2)
    assert moved_range(1, 5, inserted_before) == (1, 7)
    grown = [Hunk(5, 1, 5, 3)]  # line 5 became three
    assert moved_range(4, 5, grown) == (4, 7) and moved_range(6, 8, grown) == (8, 10)
    deleted = [Hunk(6, 3, 5, 0)]  # lines 6-8 removed
    assert moved_range(6, 8, deleted) is None and moved_range(4, 8, deleted) == (4, 5)


async def test_an_agent_depending_on_a_validated_task_works_on_the_code_its_patch_leaves(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    with LoopbackProvider() as lp:
        lp.script("fast-a", [
            Reply(FIX),
            tool("read_file", 1, path="calc.py", start_line=6, end_line=7),
            tool("replace_text", 2, path="calc.py", old="    return a + b", new="    return int(a) + int(b)"),
            tool("done", 3, summary="add() takes digits"),
        ])
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"id": "fix", "agent_type": "tcoder_speed", "workspace": str(repo), "validate": {"checks": ["test"]},
                 "task_description": "Fix add() in calc.py so the tests pass"},
                {"id": "digits", "agent_type": "tcoder_speed", "workspace": str(repo), "mode": "agent",
                 "validate": {"checks": ["test"]}, "depends_on": ["fix"],
                 "task_description": "Make add() in calc.py also accept strings of digits"},
            ]})
            status = await wait_finished(client, submitted["group_id"])
        read = [m["content"] for r in lp.requests_for("fast-a") for m in r.json["messages"] if m.get("role") == "tool"]
    by_id = {t["id"]: t for t in status["tasks"]}
    assert by_id["digits"]["status"] == "succeeded", by_id["digits"]
    assert "return a + b" in read[0]  # the file as the fix left it, in its worktree
    assert by_id["digits"]["result"].count("\n-    return a + b") == 1  # its own change only
