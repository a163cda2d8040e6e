"""Differential context on a real engine: a follow-up names the workspace code already sent in the
thread instead of sending it again, adds only the pieces new to the thread, and a later follow-up
does not resend those either. The selector is an injected fake standing in for workspace context."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from server.errors import InputError, NotFoundError
from server.scheduler.types import GroupInput, TaskInput
from server.workflows.followup import ContextPiece, continue_task, next_model
from tests.scheduler.real import open_engine
from tests.support.loopback_provider import LoopbackProvider, Reply

SENT_FIRST = {"selection": {"files": [{"path": "calc.py", "start_line": 1, "end_line": 40, "tokens": 900,
                                       "reason": "ranked"}], "total_tokens": 900, "budget_tokens": 4000},
              "prompt": "## Code from the workspace\n### calc.py (lines 1-40)\n..."}


class Selector:
    """Answers each follow-up with the pieces it is given, and records what it was asked."""

    def __init__(self, *answers: list[ContextPiece]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, workspace: Path, message: str, files: Sequence[str]) -> list[ContextPiece]:
        self.asked.append(message)
        return self.answers.pop(0)


OLD = ContextPiece("calc.py:1-40", "### calc.py (lines 1-40)\n```python\nOLD PIECE\n```\n", 900)
INSIDE_OLD = ContextPiece("calc.py:5-12", "### calc.py (lines 5-12)\n```python\nOLD PART\n```\n", 200)
NEW = ContextPiece("util.py:1-9", "### util.py (lines 1-9)\n```python\nNEW PIECE\n```\n", 60)


async def test_a_follow_up_sends_only_pieces_not_sent_before_and_names_the_rest(tmp_path: Path) -> None:
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply("first answer"), Reply("second"), Reply("third")])
        async with open_engine(tmp_path, lp.openai_url, concurrency=2) as engine:
            task = TaskInput(agent_type="tcoder_speed", description="Explain calc.py",
                             context={"workspace": str(tmp_path), "workspace_context": SENT_FIRST})
            submitted = await engine.submit(GroupInput(tasks=(task,)))
            assert submitted.group_id is not None
            while engine.is_running(submitted.group_id):
                await engine.wait_for_change(submitted.group_id, 10)
            task_id = submitted.tasks[0].task_id
            assert task_id is not None
            select = Selector([OLD, NEW], [INSIDE_OLD, NEW])
            first = await continue_task(engine, task_id, "And util?", select=select)
            second = await continue_task(engine, task_id, "Anything else?", select=select)
            with pytest.raises(NotFoundError):
                await continue_task(engine, "no-such-task", "hi")
            with pytest.raises(InputError, match="message"):
                await continue_task(engine, task_id, "  ")
        prompts = [json.dumps(r.json["messages"]) for r in lp.requests_for("fast-a")]
    assert (first.context_sent, first.context_skipped, first.context_tokens) == (("util.py:1-9",), ("calc.py:1-40",), 60)
    assert "NEW PIECE" in prompts[1] and "OLD PIECE" not in prompts[1]
    assert "already shown in this conversation: calc.py lines 1-40" in prompts[1]
    assert (second.context_sent, second.context_skipped, second.context_tokens) == ((), ("calc.py:5-12", "util.py:1-9"), 0)
    assert prompts[2].count("NEW PIECE") == 1 and "OLD PART" not in prompts[2]  # a part of a piece sent is sent
    assert second.turn == 2 and select.asked == ["And util?", "Anything else?"]


def test_stronger_moves_to_the_next_variants_first_model_and_stays_at_the_strongest() -> None:
    from server.scheduler.types import TaskPlan

    plan = TaskPlan(agent="tcoder", variant="speed", agent_name="tcoder_speed", model_id="a/fast",
                    fallback_model_ids=("a/fast2",), escalation=(("balanced", ("a/mid",)), ("quality", ("a/best",))),
                    estimated_cost=0.0, estimated_time=1.0, input_tokens=1, output_tokens=1, max_tokens=100)
    assert next_model(plan, "a/fast2", stronger=False) == "a/fast2"
    assert next_model(plan, "a/fast2", stronger=True) == "a/mid"
    assert next_model(plan, "a/mid", stronger=True) == "a/best"
    assert next_model(plan, "a/best", stronger=True) == "a/best"
