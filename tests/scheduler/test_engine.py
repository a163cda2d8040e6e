"""The engine end to end on a fake backend: order, limits, failures by class, budgets, cancel, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import (
    BackendAuthError,
    BackendBadResponse,
    BackendRateLimited,
    BackendTimeout,
    ContextTooLarge,
    InputError,
)
from server.scheduler.retry import RetryPolicy
from server.settings import BudgetSettings
from server.store import Store
from tests.scheduler.fakes import Call, Sleep
from tests.scheduler.harness import harness, tasks


def _descriptions(calls: list[Call]) -> list[str]:
    return [c.messages[-1]["content"].split("\n")[0] for c in calls]


async def test_ready_tasks_run_in_priority_order_when_one_call_may_run(tmp_path: Path) -> None:
    async with harness(tmp_path, max_concurrent=1) as h:
        await h.run(tasks(
            {"key": "low", "priority": 1, "description": "low one"},
            {"key": "high", "priority": 9, "description": "high one"},
            {"key": "mid", "priority": 5, "description": "mid one"},
        ))
        assert _descriptions(h.backend.calls) == ["high one", "mid one", "low one"]


async def test_calls_in_flight_never_exceed_the_concurrency_limit(tmp_path: Path) -> None:
    async with harness(tmp_path, max_concurrent=3) as h:
        h.backend.defaults["loopa/fast"] = Sleep(0.02)
        group_id = await h.run(tasks(*({"key": f"t{i}"} for i in range(10))))
        assert h.backend.peak == 3
        assert set((await h.statuses(group_id)).values()) == {"succeeded"}


async def test_dependent_runs_after_its_dependency_and_receives_its_output(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.backend.script("loopa/fast", ["def schema(): ...", "tests written"])
        group_id = await h.run(tasks(
            {"key": "tests", "depends_on": ["schema"], "description": "write the tests", "priority": 10},
            {"key": "schema", "description": "design the schema", "priority": 0},
        ))
        first, second = h.backend.calls
        assert "design the schema" in first.messages[-1]["content"]
        assert "def schema(): ..." in second.messages[-1]["content"]
        assert await h.statuses(group_id) == {"tests": "succeeded", "schema": "succeeded"}


async def test_task_whose_dependency_failed_is_skipped_and_so_are_its_dependents(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast",), "balanced": ("loopa/fast",),
                                          "quality": ("loopa/fast",)}) as h:
        h.backend.script("loopa/fast", [ContextTooLarge("prompt too long", status=400)])
        group_id = await h.run(tasks(
            {"key": "a"}, {"key": "b", "depends_on": ["a"]}, {"key": "c", "depends_on": ["b"]}, {"key": "d"},
            max_concurrent=1,
        ))
        statuses = await h.statuses(group_id)
        assert statuses == {"a": "failed", "b": "skipped", "c": "skipped", "d": "succeeded"}
        group = await h.store.get_group(group_id)
        assert group.status == "failed"


async def test_transient_failures_retry_then_fall_back_then_escalate(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for model in ("loopa/fast", "loopa/fast2"):
            h.backend.defaults[model] = BackendBadResponse("HTTP 502", status=502)
        h.backend.defaults["loopb/fast"] = BackendTimeout("stalled")
        group_id = await h.run(tasks({"key": "x"}))
        # Retried on the same model, then the next: the last free one (loopb/fast) has no other
        # free model to move to after a hang, so it is retried too before escalating to paid.
        assert h.backend.models_called() == ["loopa/fast"] * 3 + ["loopa/fast2"] * 3 + ["loopb/fast"] * 3 + ["loopa/mid"]
        attempts = await h.store.list_attempts(group_id=group_id)
        assert [a.status for a in attempts] == ["failed"] * 9 + ["succeeded"]
        assert attempts[-1].variant == "balanced" and attempts[0].variant == "speed"
        assert {a.error_class for a in attempts[:9]} == {"bad_response", "timeout"}
        task = (await h.store.list_tasks(group_id))[0]
        assert task.status == "succeeded" and task.model_used == "loopa/mid" and task.attempts == 10


async def test_a_hung_call_moves_to_another_model_of_its_tier_at_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.backend.script("loopa/fast", [BackendTimeout("no first byte")])
        group_id = await h.run(tasks({"key": "x"}))
        assert h.backend.models_called() == ["loopa/fast", "loopa/fast2"]
        assert await h.statuses(group_id) == {"x": "succeeded"}


async def test_a_model_that_keeps_hanging_is_retried_when_nothing_else_is_left(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast", "loopb/fast"), "balanced": ("loopb/fast",),
                                          "quality": ("loopb/fast",)}) as h:
        h.backend.script("loopa/fast", [BackendTimeout("stalled"), BackendTimeout("stalled")])
        h.backend.defaults["loopb/fast"] = BackendTimeout("stalled")
        group_id = await h.run(tasks({"key": "x"}))
        assert h.backend.models_called()[:2] == ["loopa/fast", "loopb/fast"]
        assert h.backend.models_called()[-1] == "loopa/fast"
        assert await h.statuses(group_id) == {"x": "succeeded"}


async def test_auth_error_marks_the_model_misconfigured_and_is_not_retried(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.backend.script("loopa/fast", [BackendAuthError("HTTP 401", status=401)])
        await h.run(tasks({"key": "x"}))
        assert h.backend.models_called() == ["loopa/fast", "loopa/fast2"]
        assert "loopa/fast" in h.providers.misconfigured


async def test_rate_limited_model_is_left_for_another_provider_of_its_tier(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast", "loopb/fast")}) as h:
        h.backend.script("loopa/fast", [BackendRateLimited("429", status=429, retry_after=60)])
        group_id = await h.run(tasks({"key": "x"}), timeout=5)
        assert h.backend.models_called() == ["loopa/fast", "loopb/fast"]
        assert h.engine.gate.cooldowns.remaining("loopa", "loopa/fast", h.engine.gate.now()) > 50
        assert (await h.statuses(group_id)) == {"x": "succeeded"}


async def test_rate_limited_call_waits_retry_after_when_no_alternative(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast",)}) as h:
        h.backend.script("loopa/fast", [BackendRateLimited("429", status=429, retry_after=0.2)])
        group_id = await h.run(tasks({"key": "x"}))
        assert h.backend.models_called() == ["loopa/fast", "loopa/fast"]
        attempts = await h.store.list_attempts(group_id=group_id)
        assert [(a.status, a.error_class) for a in attempts] == [("failed", "rate_limited"), ("succeeded", None)]


async def test_prompt_too_large_for_a_model_is_never_sent_to_it(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/tiny", "loopa/fast")}) as h:
        big = "Refactor this module. " + "word " * 2000
        await h.run(tasks({"key": "x", "description": big}))
        assert "loopa/tiny" not in h.backend.models_called()
        assert h.backend.models_called() == ["loopa/fast"]


async def test_task_timeout_settles_the_call_and_marks_the_task_timed_out(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.backend.defaults["loopa/fast"] = Sleep(30)
        group_id = await h.run(tasks({"key": "slow", "timeout_s": 0.3}, {"key": "after", "depends_on": ["slow"]}))
        assert await h.statuses(group_id) == {"slow": "timed_out", "after": "skipped"}
        (attempt,) = await h.store.list_attempts(group_id=group_id)
        assert attempt.status == "failed" and attempt.error_class == "timeout"
        slow = next(t for t in await h.store.list_tasks(group_id) if t.key == "slow")
        assert (slow.error or "").startswith("task timed out after 0.3s")


async def test_a_task_held_back_past_its_overall_deadline_times_out_by_that_deadline(tmp_path: Path) -> None:
    """Waiting out rate limits spends no execution time, but the overall deadline (3 x timeout_s
    from the first call) still ends the task."""
    async with harness(tmp_path, overlay={"speed": ("loopa/fast",)}) as h:
        h.backend.script("loopa/fast", [BackendRateLimited("429", status=429, retry_after=0.3)] * 5)
        group_id = await h.run(tasks({"key": "x", "timeout_s": 0.4}), timeout=10)
        (task,) = await h.store.list_tasks(group_id)
        assert task.status == "timed_out"
        assert (task.error or "").startswith("task passed its overall deadline (1.2s)")
        assert len(h.backend.models_called()) < 5


async def test_cancel_settles_running_calls_and_cancels_unstarted_tasks(tmp_path: Path) -> None:
    async with harness(tmp_path, max_concurrent=1) as h:
        h.backend.defaults["loopa/fast"] = Sleep(30)
        result = await h.engine.submit(tasks({"key": "a"}, {"key": "b"}, {"key": "c", "depends_on": ["a"]}))
        assert result.group_id is not None
        await h.backend.wait_for_calls(1)
        record, cancelled = await h.engine.cancel(result.group_id)
        assert record.status == "cancelled"
        assert set((await h.statuses(result.group_id)).values()) == {"cancelled"}
        assert len(cancelled) == 3
        (attempt,) = await h.store.list_attempts(group_id=result.group_id)
        assert attempt.status == "cancelled" and attempt.reserved_usd == 0


async def test_paid_only_task_fails_with_a_budget_error_once_the_budget_stops_paid_calls(tmp_path: Path) -> None:
    budgets = BudgetSettings(daily=0.000001)
    async with harness(tmp_path, budgets=budgets) as h:
        group_id = await h.run(tasks({"key": "paid", "agent_type": "tcoder_quality"}, {"key": "free"}))
        statuses = await h.statuses(group_id)
        assert statuses == {"paid": "failed", "free": "succeeded"}
        paid = [t for t in await h.store.list_tasks(group_id) if t.key == "paid"][0]
        assert paid.error_class == "budget" and "budget" in (paid.error or "")
        assert "loopa/best" not in h.backend.models_called()


async def test_unfinished_group_resumes_after_the_engine_restarts(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "shared.db")
    try:
        async with harness(tmp_path, store=store) as h:
            h.backend.defaults["loopa/fast"] = Sleep(30)
            result = await h.engine.submit(tasks({"key": "a"}, {"key": "b", "depends_on": ["a"]}))
            group_id = result.group_id
            assert group_id is not None
            await h.backend.wait_for_calls(1)
        # The first engine is closed: its call was interrupted, the task went back to the queue.
        (attempt,) = await store.list_attempts(group_id=group_id)
        assert attempt.status == "interrupted"
        assert await _statuses(store, group_id) == {"a": "queued", "b": "pending"}
        async with harness(tmp_path, store=store) as h2:
            assert await h2.engine.resume() == [group_id]
            await h2.finish(group_id)
            assert await h2.statuses(group_id) == {"a": "succeeded", "b": "succeeded"}
    finally:
        await store.close()


async def _statuses(store: Store, group_id: str) -> dict[str, str]:
    return {t.key: t.status for t in await store.list_tasks(group_id)}


async def test_bad_submission_names_the_field_and_stores_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        with pytest.raises(InputError, match=r"tasks\[1\].agent_type"):
            await h.engine.submit(tasks({"key": "a"}, {"key": "b", "agent_type": "nobody_here"}))
        with pytest.raises(InputError, match="cycle"):
            await h.engine.submit(tasks({"key": "a", "depends_on": ["b"]}, {"key": "b", "depends_on": ["a"]}))
        with pytest.raises(InputError, match="routing_strategy"):
            await h.engine.submit(tasks({"key": "a"}, strategy="fastest_please"))
        assert await h.store.list_groups() == []


async def test_dry_run_plans_without_storing_or_calling(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        result = await h.engine.submit(tasks({"key": "a"}, {"key": "b", "depends_on": ["a"]}, dry_run=True))
        assert result.group_id is None and result.status == "planned"
        assert [t.plan.model_id for t in result.tasks] == ["loopa/fast", "loopa/fast"]
        assert result.estimated_time >= sum(t.plan.estimated_time for t in result.tasks) * 0.99
        assert await h.store.list_groups() == [] and h.backend.calls == []


async def test_a_running_group_name_cannot_be_reused(tmp_path: Path) -> None:
    async with harness(tmp_path, retry=RetryPolicy()) as h:
        h.backend.defaults["loopa/fast"] = Sleep(30)
        await h.engine.submit(tasks({"key": "a"}, name="nightly"))
        with pytest.raises(InputError, match="group_name"):
            await h.engine.submit(tasks({"key": "a"}, name="nightly"))


async def test_a_cooling_model_never_holds_tasks_another_model_could_serve(tmp_path: Path) -> None:
    async with harness(tmp_path, max_concurrent=2) as h:
        h.backend.script("loopa/fast", [BackendRateLimited("429", status=429, retry_after=30)])
        h.backend.defaults["loopa/fast2"] = Sleep(0.01)
        group_id = await h.run(tasks(*({"key": f"t{i}"} for i in range(8))), timeout=5)
        assert set((await h.statuses(group_id)).values()) == {"succeeded"}
        # Only the calls already in flight when the 429 came (the concurrency) reached the cooling model.
        assert h.backend.models_called().count("loopa/fast") <= 2
        assert h.engine.gate.cooldowns.remaining("loopb", "loopb/fast", h.engine.gate.now()) == 0


async def test_waiting_out_a_cool_down_does_not_count_against_the_task_timeout(tmp_path: Path) -> None:
    async with harness(tmp_path, overlay={"speed": ("loopa/fast",)}) as h:
        h.backend.script("loopa/fast", [BackendRateLimited("429", status=429, retry_after=0.45), "done"])
        group_id = await h.run(tasks({"key": "x", "timeout_s": 0.3}))
        assert h.backend.models_called() == ["loopa/fast", "loopa/fast"]
        assert await h.statuses(group_id) == {"x": "succeeded"}
