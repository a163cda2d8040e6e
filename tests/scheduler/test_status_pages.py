"""A group's status: counts and totals of every task, tasks one page at a time, attention first."""

from __future__ import annotations

from pathlib import Path

from server.errors import ContextTooLarge
from server.scheduler.status import group_view
from server.store import BudgetLimits
from tests.scheduler.harness import harness, tasks


async def test_status_counts_every_task_and_pages_them_failures_first(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast",), "balanced": ("loopa/fast",),
                                          "quality": ("loopa/fast",)}) as h:
        h.backend.script("loopa/fast", [ContextTooLarge("too long", status=400)] * 3)
        group_id = await h.run(tasks(*({"key": f"t{i}"} for i in range(45)), max_concurrent=1))
        record = await h.store.get_group(group_id)

        first = await group_view(h.store, record.id, lambda _: BudgetLimits(), max_result_chars=50, limit=10)
        assert first.counts == {"failed": 3, "succeeded": 42} and first.progress == 1.0 and first.finished
        assert first.attempts == 45 and first.tasks_matching == 45
        assert [t.status for t in first.tasks[:3]] == ["failed"] * 3 and len(first.tasks) == 10
        assert first.tasks_next_offset == 10

        rest = []
        offset: int | None = 10
        while offset is not None:
            page = await group_view(h.store, record.id, lambda _: BudgetLimits(), max_result_chars=50, offset=offset, limit=10)
            rest += page.tasks
            offset = page.tasks_next_offset
        assert len({t.task_id for t in first.tasks + rest}) == 45

        done = await group_view(h.store, record.id, lambda _: BudgetLimits(), max_result_chars=50, task_status="succeeded",
                                limit=100)
        assert done.tasks_matching == 42 and {t.status for t in done.tasks} == {"succeeded"}
        assert done.tasks_next_offset is None
