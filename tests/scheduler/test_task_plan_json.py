"""A task's plan is stored as JSON (`plan_json`) and read back when the task is dispatched."""

from __future__ import annotations

import dataclasses
import json

from server.scheduler.types import TaskPlan


def test_a_stored_plan_reads_back_equal_with_every_field_kept() -> None:
    plan = TaskPlan(
        agent="coder", variant="speed", agent_name="coder_speed", model_id="m-1", fallback_model_ids=("m-2", "m-3"),
        escalation=(("balanced", ("m-4",)), ("quality", ("m-5", "m-6"))), estimated_cost=0.0012,
        estimated_time=3.5, input_tokens=120, output_tokens=400, max_tokens=2048, temperature=0.1,
        rationale="cheapest that fits", excluded={"m-7": "context window too small"}, task_type="implement",
        repo="example.org/team/repo",
    )
    stored = plan.to_json()
    assert list(json.loads(stored)) == [f.name for f in dataclasses.fields(TaskPlan)]
    assert TaskPlan.from_json(stored) == plan
