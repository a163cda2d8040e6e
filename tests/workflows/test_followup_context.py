"""Differential context on a real engine: a follow-up names the workspace code already sent in the
thread instead of sending it again, adds only the pieces new to the thread, and a later follow-up
does not resend those either. The first turn's context is the real selection; the follow-up's
selector is an injected fake, so the pieces it offers are known."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from server.errors import InputError, NotFoundError
from server.scheduler.types import GroupInput, TaskInput
from server.workflows.followup import ContextPiece, continue_task, next_model
from tests.scheduler.real import open_engine
from tests.support.loopback_provider import LoopbackProvider, Reply


def _repo(root: Path) -> Path:
    repo = root / "calc"
    repo.mkdir()
    (repo / "calc.py").write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(10)))
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "calc"]):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                       capture_output=True)
    return repo


class Selector:
    """Answers each follow-up with the pieces it is given, and records what it was asked."""

    def __init__(self, *answers: list[ContextPiece]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, workspace: Path, message: str, files: Sequence[str]) -> list[ContextPiece]:
        self.asked.append(message)
        return self.answers.pop(0)


NEW = ContextPiece("util.py:1-9", "### util.py (lines 1-9)\n```python\nNEW PIECE\n```\n", 60)


async def test_a_follow_up_sends_only_pieces_not_sent_before_and_names_the_rest(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("first answer"), Reply("second"), Reply("third")])
        async with open_engine(tmp_path, lp.openai_url, concurrency=2) as engine:
            task = TaskInput(agent_type="tcoder_speed", description="Explain f3 in calc.py",
                             context={"workspace": str(_repo(tmp_path))})
            submitted = await engine.submit(GroupInput(tasks=(task,)))
            assert submitted.group_id is not None
            while engine.is_running(submitted.group_id):
                await engine.wait_for_change(submitted.group_id, 10)
            task_id = submitted.tasks[0].task_id
            assert task_id is not None
            stored = json.loads((await engine.store.get_task(task_id)).context_json or "{}")["workspace_context"]
            (first_piece, *_) = stored["selection"]["files"]  # what the first turn showed of calc.py
            start, end = first_piece["start_line"], first_piece["end_line"]
            old = ContextPiece(f"calc.py:{start}-{end}", "### calc.py\n```python\nOLD PIECE\n```\n", 90)
            inside = ContextPiece(f"calc.py:{start}-{start}", "### calc.py\n```python\nOLD PART\n```\n", 9)
            select = Selector([old, NEW], [inside, NEW])
            first = await continue_task(engine, task_id, "And util?", select=select)
            second = await continue_task(engine, task_id, "Anything else?", select=select)
            with pytest.raises(NotFoundError):
                await continue_task(engine, "no-such-task", "hi")
            with pytest.raises(InputError, match="message"):
                await continue_task(engine, task_id, "  ")
        sent_messages = [r.json["messages"] for r in lp.requests_for("fast-a")]
        prompts = [json.dumps(m) for m in sent_messages]
    assert (first.context_sent, first.context_skipped, first.context_tokens) == (("util.py:1-9",), (old.key,), 60)
    assert "NEW PIECE" in prompts[1] and "OLD PIECE" not in prompts[1]
    assert f"already shown in this conversation: calc.py lines {start}-{end}" in prompts[1]
    # the code shown at first is in the thread's first turn, once: a request is all the model sees
    assert prompts[0].count("return x + 3") == 1 and prompts[1].count("return x + 3") == 1
    assert sent_messages[1][1] == sent_messages[0][1]  # the first turn as it was sent
    assert (second.context_sent, second.context_skipped, second.context_tokens) == ((), (inside.key, "util.py:1-9"), 0)
    assert prompts[2].count("NEW PIECE") == 1 and "OLD PART" not in prompts[2]  # a part of a piece sent is sent
    assert second.turn == 2 and select.asked == ["And util?", "Anything else?"]
    # each follow-up resends the thread byte for byte and appends to it (a provider's prompt cache can serve it)
    assert sent_messages[2][:len(sent_messages[1])] == sent_messages[1]


def test_stronger_moves_to_the_next_variants_first_model_and_stays_at_the_strongest() -> None:
    from server.scheduler.types import TaskPlan

    plan = TaskPlan(agent="tcoder", variant="speed", agent_name="tcoder_speed", model_id="a/fast",
                    fallback_model_ids=("a/fast2",), escalation=(("balanced", ("a/mid",)), ("quality", ("a/best",))),
                    estimated_cost=0.0, estimated_time=1.0, input_tokens=1, output_tokens=1, max_tokens=100)
    assert next_model(plan, "a/fast2", stronger=False) == "a/fast2"
    assert next_model(plan, "a/fast2", stronger=True) == "a/mid"
    assert next_model(plan, "a/mid", stronger=True) == "a/best"
    assert next_model(plan, "a/best", stronger=True) == "a/best"


def test_a_message_points_at_a_file_it_names_or_a_name_it_writes_as_code() -> None:
    from server.workflows.context_pieces import points_at

    assert points_at("Look at util.py.", [], "src/util.py", "")
    assert points_at("see src/util.py first", [], "src/util.py", "")
    assert not points_at("What does data.py do?", [], "a.py", "")  # a.py is not a word of that message
    assert points_at("Use `helper` here", ["helper"], "x.py", "async def helper():\n    pass\n")
    assert points_at("Use `LIMIT`", ["LIMIT"], "x.py", "LIMIT = 3\n")
    assert not points_at("Use `helper` here", ["helper"], "x.py", "def other():\n    return helper()\n")
