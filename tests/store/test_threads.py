"""Follow-up threads in the store: turns and the context pieces sent, kept across a reopen, a
piece recorded once, turns counted per task of a group (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from server.store import NewGroup, NewTask, Store
from server.store.threads import ThreadMessage


async def test_a_thread_survives_a_reopen_and_each_piece_is_recorded_once(db: str | Path) -> None:
    store = await Store.open(db)
    try:
        group = await store.create_group(NewGroup(name=None, strategy="balanced", policy="code", max_concurrent=1),
                                         [NewTask(key="t1", position=0, agent_type="", agent="a", variant="speed",
                                                  agent_name="a_speed", description="d")])
        (task,) = await store.list_tasks(group.id)
        assert (await store.thread(task.id)).messages == ()
        await store.append_thread(task.id, [ThreadMessage(1, "user", "more?", None, 60),
                                            ThreadMessage(1, "assistant", "yes", "m/x")],
                                  [("calc.py:1-40", 900, 0), ("util.py:1-9", 60, 1)])
        await store.append_thread(task.id, [ThreadMessage(2, "user", "and?"), ThreadMessage(2, "assistant", "no")],
                                  [("util.py:1-9", 60, 2)])
    finally:
        await store.close()
    store = await Store.open(db)
    try:
        thread = await store.thread(task.id)
        turns = await store.thread_turns([task.id, "other"])
        statuses = await store.task_statuses(group.id, ["t1", "t9"])
    finally:
        await store.close()
    assert [(m.turn, m.role, m.content) for m in thread.messages] == [
        (1, "user", "more?"), (1, "assistant", "yes"), (2, "user", "and?"), (2, "assistant", "no")]
    assert thread.messages[0].context_tokens == 60 and thread.messages[1].model_id == "m/x"
    assert thread.sent == {"calc.py:1-40": 900, "util.py:1-9": 60} and thread.turns == 2
    assert turns == {task.id: 2} and statuses == {"t1": "pending"}
