"""`migrate`: a developer's SQLite history moves into another store (the team's PostgreSQL) whole."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.errors import StoreError
from server.store import BudgetLimits, Store
from server.store.threads import ThreadMessage
from server.store.transfer import transfer
from tests.conftest import REPO, isolated_env
from tests.store.helpers import new_group, new_tasks

DAY = BudgetLimits(daily=100.0)


async def _history(path: Path) -> str:
    store = await Store.open(path)
    try:
        group = await store.create_group(new_group("mine"), new_tasks(2))
        task = (await store.list_tasks(group.id))[0]
        await store.transition_task(task.id, ["pending"], "running")
        for cost in (0.01, 0.03):
            a = await store.begin_attempt(task.id, group.id, "gpt-x", "openai", "speed", 0.01, True, DAY)
            await store.settle_attempt(a.id, status="succeeded", cost=cost, cost_source="provider_reported")
        await store.record_validation(a.id, task.id, group.id, passed=True, status="passed", base_commit=None,
                                      report_json="{}")
        await store.transition_task(task.id, ["running"], "succeeded", result="done")
        await store.append_thread(task.id, [ThreadMessage(1, "user", "and the docs?", None, 40),
                                            ThreadMessage(1, "assistant", "added", "gpt-x")], [("a.py:1-9", 40, 1)])
        await store.finish_group(group.id, "succeeded")
        return group.id
    finally:
        await store.close()


async def test_a_sqlite_history_moves_whole_and_adds_to_the_targets_spend(tmp_path: Path, db: str | Path) -> None:
    source_path = tmp_path / "mine.db"
    group_id = await _history(source_path)
    target = await Store.open(db)
    try:  # the target already holds a teammate's spend today
        a = await target.begin_attempt(None, None, "gpt-x", "openai", "speed", 0.01, True, DAY)
        await target.settle_attempt(a.id, status="succeeded", cost=0.02, cost_source="provider_reported")
        source = await Store.open(source_path)
        try:
            report = await transfer(source, target)
            assert (report.groups, report.tasks, report.attempts, report.validations) == (1, 2, 2, 1)
            with pytest.raises(StoreError, match="migrated before"):
                await transfer(source, target)
        finally:
            await source.close()
        assert (await target.get_group(group_id)).status == "succeeded"
        attempts = await target.list_attempts(group_id=group_id)
        assert sorted(x.charged_usd for x in attempts) == [pytest.approx(0.01), pytest.approx(0.03)]
        assert [v.attempt_id for v in await target.list_validations(group_id=group_id)] == [attempts[-1].id]
        assert (await target.budget_status(DAY)).periods[0].spent == pytest.approx(0.06)
        assert (await target.learned_costs("gpt-x", "openai")).ratio == pytest.approx(3.0)
        task = next(t for t in await target.list_tasks(group_id) if t.status == "succeeded")
        thread = await target.thread(task.id)  # continue_task's thread moved with its task
        assert [(m.role, m.content) for m in thread.messages] == [("user", "and the docs?"), ("assistant", "added")]
    finally:
        await target.close()


async def test_a_source_with_work_still_running_under_a_live_server_is_refused(tmp_path: Path, db: str | Path) -> None:
    live = await Store.open(tmp_path / "busy.db")
    target = await Store.open(db)
    try:
        group = await live.create_group(new_group("busy"), new_tasks(1))
        with pytest.raises(StoreError, match="still running"):
            await transfer(live, target)
        assert await target.list_groups() == []
        assert (await live.get_group(group.id)).status == "running"
    finally:
        await live.close()
        await target.close()


async def test_the_migrate_command_prints_what_moved(tmp_path: Path, db: str | Path) -> None:
    source_path = tmp_path / "mine.db"
    await _history(source_path)
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server", "migrate", "--from", f"sqlite://{source_path}", "--to", str(db), "--json"],
        capture_output=True, text=True, env=isolated_env(tmp_path), cwd=REPO, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["attempts"] == 2
