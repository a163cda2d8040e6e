"""Test-first, as one task in two phases on the runner (a task whose spec has `"test_first": true`).

1. A cheap model (the agent's speed variant first) is asked for tests only; the answer's tests must be collected and must fail on the
   current code (`phase: "tests"` in the check), else the attempt fails with the reason as
   feedback and the runner retries or escalates as for any failed check.
2. The implementation is asked for with those tests shown; its check runs the project's tests
   with the tests applied first (`base_patch`), and a patch that edits them fails the attempt
   (`protected`). The passing answer is tests and implementation together.

Both phases are attempts of the same task (the same job object, so a user's cancel reaches
both); only the second reports the task's end to the engine.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from server.catalog.schema import Catalog
from server.scheduler.ports import TaskEvents
from server.scheduler.runner import Job, Outcome, TaskRunner
from server.scheduler.types import TaskPlan
from server.validation.worktree import diff_files

__all__ = ["IMPLEMENT_REQUEST", "TESTS_REQUEST", "run_test_first", "test_writer_plan"]

TESTS_REQUEST = (
    "Step 1 of 2 (test-first): write ONLY the tests for this task, not the implementation. They "
    "must be collected by the project's test runner and must FAIL on the current code (a test that "
    "already passes proves nothing); import the module and reach new names inside the test "
    "functions. Answer with one unified diff adding the test file(s), in a ```diff block."
)
IMPLEMENT_REQUEST = (
    "Step 2 of 2: these tests were written first and are the check; they are applied before your "
    "patch and may not be edited:\n\n```diff\n{tests}\n```\n\nNow implement the change so they pass. "
    "Answer with one unified diff of the implementation only, in a ```diff block."
)


class _PhaseEvents:
    """Forwards a phase's progress to the engine but keeps its end: the task is not over yet."""

    def __init__(self, events: TaskEvents) -> None:
        self._events = events

    async def queued(self, job: Job) -> None:
        await self._events.queued(job)

    async def started(self, job: Job) -> None:
        await self._events.started(job)

    async def progress(self, job: Job) -> None:
        await self._events.progress(job)

    async def finished(self, job: Job, outcome: Outcome) -> None:
        return None


def test_writer_plan(plan: TaskPlan, catalog: Catalog) -> TaskPlan:
    """The plan for writing the tests: the agent's speed variant first (the cheap one), then the
    task's own chain; the task's plan when it already starts there. Models routing left out of
    the task's plan stay out."""
    agent = catalog.agents.get(plan.agent)
    speed = [m for m in (agent.variants.get("speed") or [] if agent else []) if m not in plan.excluded]
    if plan.variant == "speed" or not speed:
        return plan
    own = (plan.variant, (plan.model_id, *plan.fallback_model_ids))
    return dataclasses.replace(plan, variant="speed", model_id=speed[0], fallback_model_ids=tuple(speed[1:]),
                               escalation=(own, *plan.escalation))


async def run_test_first(runner: TaskRunner, job: Job, events: TaskEvents, *, cheap_tests: bool = True) -> Outcome:
    """Run `job` test-first (see the module docstring); report the outcome to `events`.
    `cheap_tests`: the tests are written by the agent's speed variant first (off when only
    local models may be used, which the task's own plan already respects)."""
    assert job.validation is not None
    spec: dict[str, Any] = {k: v for k, v in job.validation.items() if k != "test_first"}
    original, plan = list(job.messages), job.plan
    job.messages = [*original, {"role": "user", "content": TESTS_REQUEST}]
    job.validation = {**spec, "phase": "tests"}
    if cheap_tests:
        job.plan = test_writer_plan(plan, runner.catalog)
    tests = await runner.run(job, _PhaseEvents(events))
    job.plan = plan
    if tests.status != "succeeded" or not tests.text:
        reason = await _last_rejection(runner, job.task_id)
        error = f"test-first: no tests were accepted ({reason}); {tests.error or tests.status}"
        outcome = Outcome(tests.status, error=error, error_class=tests.error_class or "tests_rejected",
                          model_used=tests.model_used, call_seconds=tests.call_seconds)
        await events.finished(job, outcome)
        return outcome
    test_patch = tests.text
    job.messages = [*original, {"role": "user", "content": IMPLEMENT_REQUEST.format(tests=test_patch.strip())}]
    job.validation = {**spec, "checks": ["test"], "protected": list(diff_files(test_patch)),
                      "base_patch": test_patch}
    job.last_attempt_id = None
    outcome = await runner.run(job, events)
    outcome.call_seconds += tests.call_seconds
    return outcome


async def _last_rejection(runner: TaskRunner, task_id: str) -> str:
    """Why the last tests were rejected, from the stored validation reports."""
    for record in reversed(await runner.store.list_validations(task_id=task_id)):
        error = json.loads(record.report_json).get("error")
        if error:
            return str(error)
    return "no answer was checked"
