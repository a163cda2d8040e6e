"""Groups and tasks: atomic creation, names, look-ups, compare-and-set moves, large results."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from server.errors import InputError, NotFoundError
from server.store import Store, final_group_status
from tests.store.helpers import new_group, new_tasks, query


async def test_create_group_stores_the_group_and_its_tasks_pending(store: Store) -> None:
    group = await store.create_group(new_group("build"), new_tasks(3))
    assert len(group.id) == 12 and group.status == "running" and group.owner == store.owner
    tasks = await store.list_tasks(group.id)
    assert [t.key for t in tasks] == ["t1", "t2", "t3"]
    assert {t.status for t in tasks} == {"pending"}
    assert tasks[0].tags == ["x"] and tasks[0].depends_on == [] and tasks[0].plan_json == '{"chain": ["m1"]}'


async def test_a_failure_midway_through_create_group_leaves_nothing(store: Store, db: str | Path) -> None:
    with pytest.raises(InputError, match=r"tasks\[\]\.id.*'a'"):
        await store.create_group(new_group("dup"), new_tasks(3, keys=["a", "b", "a"]))
    assert query(db, "SELECT count(*) FROM groups") == [(0,)]
    assert query(db, "SELECT count(*) FROM tasks") == [(0,)]
    # The name is still free.
    await store.create_group(new_group("dup"), new_tasks(1))


async def test_a_group_name_already_running_is_refused_naming_the_field(store: Store) -> None:
    first = await store.create_group(new_group("nightly"), new_tasks(1))
    with pytest.raises(InputError) as err:
        await store.create_group(new_group("nightly"), new_tasks(1))
    assert err.value.field == "group_name" and first.id in str(err.value)
    assert await store.finish_group(first.id, "succeeded")
    again = await store.create_group(new_group("nightly"), new_tasks(1))
    # By name: the most recent group with that name.
    assert (await store.get_group("nightly")).id == again.id
    assert (await store.get_group(first.id)).status == "succeeded"


async def test_concurrent_creates_with_one_name_let_exactly_one_run(store: Store) -> None:
    results = await asyncio.gather(
        *(store.create_group(new_group("race"), new_tasks(2)) for _ in range(8)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InputError) for r in results if isinstance(r, BaseException))


async def test_dry_run_groups_are_planned_and_do_not_hold_their_name(store: Store) -> None:
    plan = await store.create_group(new_group("p", dry_run=True), new_tasks(1))
    assert plan.status == "planned" and plan.dry_run is True
    await store.create_group(new_group("p"), new_tasks(1))
    assert await store.unfinished_groups() != [] and plan.id not in [g.id for g in await store.unfinished_groups()]


async def test_unknown_group_or_task_raises_not_found_naming_the_value(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        await store.get_group("nope")
    with pytest.raises(NotFoundError, match="nada"):
        await store.get_task("nada")


async def test_transition_is_compare_and_set_so_only_one_writer_moves_a_task(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(1))
    (task,) = await store.list_tasks(group.id)
    assert await store.transition_task(task.id, ["pending"], "queued")
    moved = await asyncio.gather(*(store.transition_task(task.id, ["queued"], "running") for _ in range(5)))
    assert moved.count(True) == 1
    assert not await store.transition_task(task.id, ["queued"], "cancelled")
    running = await store.get_task(task.id)
    assert running.status == "running" and running.queued_at and running.started_at and running.finished_at is None
    assert await store.transition_task(task.id, ["running"], "succeeded", result="done")
    done = await store.get_task(task.id)
    assert done.status == "succeeded" and done.finished_at and done.result_preview == "done"


async def test_update_task_rejects_unknown_fields_and_statuses(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(1))
    (task,) = await store.list_tasks(group.id)
    with pytest.raises(InputError, match="cost_usd"):
        await store.update_task(task.id, cost_usd=5.0)
    with pytest.raises(InputError, match="status"):
        await store.transition_task(task.id, ["pending"], "exploded")
    assert await store.update_task(task.id, error="boom", error_class="bad_response")
    assert (await store.get_task(task.id)).error == "boom"


async def test_group_tasks_move_together_and_totals_count_them(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(4))
    tasks = await store.list_tasks(group.id)
    await store.transition_task(tasks[0].id, ["pending"], "succeeded")
    cancelled = await store.transition_group_tasks(group.id, ["pending", "queued"], "cancelled")
    assert sorted(cancelled) == sorted(t.id for t in tasks[1:])
    totals = await store.group_totals(group.id)
    assert totals.tasks == 4 and totals.by_status == {"succeeded": 1, "cancelled": 3}
    assert final_group_status(["succeeded", "cancelled"]) == "failed"
    assert final_group_status(["succeeded"]) == "succeeded"


async def test_a_large_result_is_stored_whole_and_served_in_slices(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(1))
    (task,) = await store.list_tasks(group.id)
    text = "".join(f"{i:05d}é" for i in range(20_000))  # 120,000 characters, not all ASCII
    await store.update_task(task.id, result=text)
    listed = (await store.list_tasks(group.id, preview_chars=100))[0]
    assert listed.result_chars == len(text) and listed.result_preview == text[:100]
    pieces, offset = [], 0
    while True:
        part = await store.task_result(task.id, offset, 50_000)
        pieces.append(part.text)
        if part.next_offset is None:
            break
        offset = part.next_offset
    assert "".join(pieces) == text and len(pieces) == 3
    with pytest.raises(InputError, match="offset"):
        await store.task_result(task.id, -1, 10)


async def test_list_groups_filters_by_status_newest_first(store: Store) -> None:
    a = await store.create_group(new_group("a"), new_tasks(1))
    b = await store.create_group(new_group("b"), new_tasks(1))
    await store.finish_group(a.id, "failed")
    assert [g.id for g in await store.list_groups(10)] == [b.id, a.id]
    assert [g.id for g in await store.list_groups(10, status="failed")] == [a.id]
    assert not await store.finish_group(a.id, "succeeded")  # already finished


async def test_look_ups_leave_a_groups_request_out_and_group_request_reads_it_whole(store: Store) -> None:
    request = '{"tasks": [' + ", ".join(f'{{"task_description": "task {i}"}}' for i in range(2000)) + "]}"
    created = await store.create_group(dataclasses.replace(new_group("audit"), request_json=request), new_tasks(1))
    assert (await store.get_group(created.id)).request_json == ""
    assert [g.request_json for g in await store.list_groups()] == [""]
    assert await store.group_request(created.id) == request
    with pytest.raises(NotFoundError):
        await store.group_request("nosuchgroup")
