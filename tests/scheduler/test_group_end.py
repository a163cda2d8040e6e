"""A status read while a group ends never shows every task final and the group still running."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.scheduler.dag import TERMINAL
from server.scheduler.status import group_view
from server.store import BudgetLimits
from tests.scheduler.fakes import Sleep
from tests.scheduler.harness import Harness, harness, tasks


async def _watch(h: Harness, group_id: str, *, wait: bool, seen: list[str]) -> None:
    """Read the status as a client would (woken by each change, or polling) until the group ends."""
    while True:
        if wait:
            await h.engine.wait_for_change(group_id, 5.0)
        record = await h.store.get_group(group_id)
        view = await group_view(h.store, record.id, lambda _: BudgetLimits(), max_result_chars=100)
        every_task_final = all(t.status in TERMINAL for t in view.tasks)
        if every_task_final and not view.finished:
            seen.append(f"{view.status} with tasks {[t.status for t in view.tasks]}")
        if view.finished:
            return
        if not wait:
            await asyncio.sleep(0)


async def test_status_with_every_task_final_says_the_group_finished(tmp_path: Path) -> None:
    seen: list[str] = []
    async with harness(tmp_path) as h:
        h.backend.defaults["loopa/fast"] = Sleep(0.001)
        for round_ in range(15):
            # Independent tasks (the reported case) and a failing chain (skips end the group).
            group = tasks({"key": "a"}, {"key": "b"}, {"key": "c"}) if round_ % 3 else tasks(
                {"key": "a", "timeout_s": 0.0001}, {"key": "b", "depends_on": ["a"]}, {"key": "c"})
            result = await h.engine.submit(group)
            assert result.group_id is not None
            async with asyncio.timeout(10):
                await asyncio.gather(*(_watch(h, result.group_id, wait=w, seen=seen) for w in (True, True, False)))
    assert seen == []
