"""`route_task` is the planner's dry run: for every seed example it recommends exactly what a
`dry_run` submission of the same task plans (variant, model, fallbacks, estimate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.settings import load_settings
from server.state import open_app_state
from tests.conftest import isolated_env
from tests.routing.cases import load_cases
from tools._inputs import CallerHints
from tools.route_task import RouteTaskInput, preview_route
from tools.submit_parallel_tasks import TaskSpec, build_group_input

# Every cloud provider configured (no call is made: both paths only plan), Ollama pointed nowhere.
KEYS = {name: "test-key" for name in (
    "OPENROUTER_API_KEY", "GROQ_API_KEY", "CEREBRAS_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
)}


@pytest.mark.parametrize("config", ["", "[budgets]\nper_task = 0.0005\n"], ids=["defaults", "per-task-cap"])
async def test_route_task_and_a_dry_run_submission_plan_every_seed_example_alike(
    tmp_path: Path, config: str
) -> None:
    cases = load_cases()
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    settings = load_settings(isolated_env(
        tmp_path, OLLAMA_HOST="127.0.0.1:9", PWM_CONFIG=str(tmp_path / "config.toml"), **KEYS,
    ))
    state = await open_app_state(settings)
    try:
        await state.registry.start_probe()  # availability settled before either path plans
        hint_names = set(CallerHints.model_fields)
        for case in cases:
            hints = {k: v for k, v in case["context"].items() if k in hint_names}
            preview = await preview_route(state, RouteTaskInput(
                task_description=case["description"], agent_type=case["agent_type"],
                routing_strategy=case["routing_strategy"], **hints,
            ))
            spec = TaskSpec.model_validate({
                "agent_type": case["agent_type"], "task_description": case["description"], **case["context"],
            })
            group = build_group_input([spec], group_name=None, routing_strategy=case["routing_strategy"],
                                      policy=None, max_concurrent=None, budget_usd=None, dry_run=True, max_tasks=10)
            (planned,) = (await state.engine.submit(group)).tasks
            seen: dict[str, Any] = {
                "variant": preview.recommended_variant, "model": preview.recommended_model,
                "fallbacks": preview.fallback_models, "estimate": preview.estimated_cost,
            }
            plan = planned.plan
            assert seen == {
                "variant": plan.variant, "model": plan.model_id, "fallbacks": list(plan.fallback_model_ids),
                "estimate": plan.estimated_cost,
            }, case["id"]
    finally:
        await state.aclose()
