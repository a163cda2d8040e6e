"""The learned history is the database's, not a process's: on SQLite and on PostgreSQL alike,
attempts one server recorded are read by another server's `PerfReader` and tracker refresh."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from server.perf import PerfReader
from server.perf.service import PerfServices
from server.settings import Settings
from server.store import Store
from tests.perf.catalog_fixture import write_catalog
from tests.perf.seed import SeedAttempt, seed
from tests.store.conftest import new_db  # noqa: F401  (the SQLite / PostgreSQL fixture)


async def test_attempts_one_server_records_are_what_another_servers_reader_and_tracker_see(
    new_db: Callable[[str], str | Path], settings: Settings, tmp_path: Path  # noqa: F811
) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    target = new_db("pwm")
    if isinstance(target, Path):
        settings = dataclasses.replace(settings, db_path=target, db_url=str(target))
    else:
        settings = dataclasses.replace(settings, db_url=target)
    now = time.time()
    rows = [
        SeedAttempt("loop/cheap", now - 600, task_type="crud"),
        SeedAttempt("loop/cheap", now - 500, task_type="docs", status="failed", error_class="timeout",
                    output_tokens=0, latency_ms=None),
        SeedAttempt("loop/premium", now - 400, task_type="architecture"),
    ]
    writer = await Store.open(target)
    try:
        ids = await seed(writer, catalog, rows)
    finally:
        await writer.close()

    other = await Store.open(target)
    try:
        reader = PerfReader.for_store(other)
        try:
            facts = await reader.attempt_facts(now - 3600, now)
        finally:
            await reader.close()
        assert [(f.attempt_id, f.model_id, f.task_type, f.status) for f in facts] == [
            (ids[0], "loop/cheap", "crud", "succeeded"),
            (ids[1], "loop/cheap", "docs", "failed"),
            (ids[2], "loop/premium", "architecture", "succeeded"),
        ]
        assert facts[0].policy == "code" and facts[0].group_name == "seeded" and facts[0].output_tokens == 500

        services = PerfServices.create(settings, catalog, other)
        try:
            assert await services.refresh() == 3
            cheap = services.tracker.models["loop/cheap"]
            assert (cheap.calls, cheap.successes, cheap.failures) == (2, 1, 1)
            assert services.tracker.models["loop/premium"].successes == 1
            groups = await services.reader.recent_groups()
            assert [(g["name"], g["tasks"], g["status"]) for g in groups] == [("seeded", 3, "succeeded")]
        finally:
            await services.aclose()
    finally:
        await other.close()


async def test_an_answer_no_check_could_judge_is_read_back_as_neutral_on_either_database(
    new_db: Callable[[str], str | Path], tmp_path: Path  # noqa: F811
) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    target = new_db("pwm")
    now = time.time()
    store = await Store.open(target)
    try:
        unchecked, failed, passed = await seed(store, catalog, [SeedAttempt("loop/cheap", now - 300 + i) for i in range(3)])
        (group,) = await store.list_groups(limit=1)
        tasks = sorted(await store.list_tasks(group.id), key=lambda t: t.position)
        for attempt, task, ok, status in ((unchecked, tasks[0], False, "unchecked"), (failed, tasks[1], False, "failed"),
                                          (passed, tasks[2], True, "passed")):
            await store.record_validation(attempt, task.id, group.id, passed=ok, status=status, base_commit=None,
                                          report_json="{}")
        reader = PerfReader.for_store(store)
        try:
            facts = {f.attempt_id: f for f in await reader.attempt_facts(now - 3600, now)}
        finally:
            await reader.close()
    finally:
        await store.close()
    assert (facts[unchecked].error_class, facts[unchecked].validation_passed) == ("validation_unavailable", None)
    assert not facts[unchecked].counted
    assert (facts[failed].validation_passed, facts[failed].counted, facts[failed].success) == (False, True, False)
    assert (facts[passed].validation_passed, facts[passed].success) == (True, True)
