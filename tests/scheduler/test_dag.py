"""Submission-time checks of a group's dependency graph, and readiness bookkeeping."""

from __future__ import annotations

import pytest

from server.errors import InputError
from server.scheduler.dag import TaskGraph, bottom_levels, validate_dag


def test_topological_order_puts_dependencies_first() -> None:
    order = validate_dag(["c", "a", "b"], {"c": ["a", "b"], "b": ["a"]})
    assert order.index("a") < order.index("b") < order.index("c")


def test_duplicate_id_is_rejected_naming_the_task() -> None:
    with pytest.raises(InputError) as info:
        validate_dag(["a", "b", "a"], {})
    assert info.value.field == "tasks[2].id"
    assert "'a'" in str(info.value)


def test_unknown_dependency_is_rejected_naming_both_ids() -> None:
    with pytest.raises(InputError) as info:
        validate_dag(["a", "b"], {"b": ["zzz"]})
    assert info.value.field == "tasks[1].depends_on"
    assert "'b'" in str(info.value) and "'zzz'" in str(info.value)


def test_self_dependency_is_rejected() -> None:
    with pytest.raises(InputError, match="depends on itself"):
        validate_dag(["a"], {"a": ["a"]})


def test_cycle_is_rejected_naming_the_tasks_on_it() -> None:
    with pytest.raises(InputError) as info:
        validate_dag(["a", "b", "c", "d"], {"a": ["c"], "b": ["a"], "c": ["b"], "d": ["a"]})
    message = str(info.value)
    assert "cycle" in message
    for task_id in ("a", "b", "c"):
        assert task_id in message
    assert "d ->" not in message and "-> d" not in message


def test_bottom_level_counts_the_longest_chain_behind_a_task() -> None:
    levels = bottom_levels(["a", "b", "c", "d"], {"b": ["a"], "c": ["b"], "d": ["a"]})
    assert levels == {"a": 3, "b": 2, "c": 1, "d": 1}


def test_task_is_ready_only_when_every_dependency_succeeded() -> None:
    graph = TaskGraph.build({"a": [], "b": [], "c": ["a", "b"]}, {"a": "succeeded", "b": "running", "c": "pending"})
    assert not graph.is_ready("c")
    graph.mark("b", "succeeded")
    assert graph.is_ready("c")


def test_failed_dependency_blocks_its_dependents() -> None:
    graph = TaskGraph.build({"a": [], "b": ["a"]}, {"a": "timed_out", "b": "pending"})
    assert graph.blocked_by_failure("b") == "a"
    assert not graph.is_ready("b")
    graph.mark("b", "skipped")
    assert graph.done()


def test_everything_downstream_of_a_failure_is_blocked_parents_first() -> None:
    graph = TaskGraph.build(
        {"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"], "e": []},
        {"a": "failed", "b": "pending", "c": "pending", "d": "pending", "e": "running"},
    )
    assert graph.blocked_behind("a") == [("b", "a"), ("d", "a"), ("c", "b")]
    assert graph.finished_count() == 1 and not graph.done()
    for key in ("b", "c", "d"):
        graph.mark(key, "skipped")
    graph.mark("e", "succeeded")
    assert graph.done() and not graph.all_succeeded() and not graph.all_succeeded_but("a")
