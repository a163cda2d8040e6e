"""`route_task` is the planner's dry run: for every seed example it recommends exactly what a
`dry_run` submission of the same task plans (variant, model, fallbacks, estimate), and so it does
for a validated task (try-check-escalate, with what its repository taught)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from server.catalog.schema import VARIANTS
from server.errors import InputError, WorkspaceError
from server.perf.repos import repo_key
from server.perf.stats import AttemptFact
from server.scheduler.types import TaskPlan
from server.settings import load_settings
from server.state import open_app_state
from tests.conftest import isolated_env
from tests.routing.cases import load_cases
from tools._inputs import CallerHints
from tools.route_task import RouteTaskInput, RouteTaskOutput, preview_route
from tools.submit_parallel_tasks import TaskSpec, build_group_input, confine_group

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


def _git_repo(path: Path) -> Path:
    path.mkdir()
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
    (path / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=path, check=True,
                       capture_output=True)
    return path


async def test_a_validated_task_is_previewed_as_submit_plans_it_with_what_its_repository_taught(
    tmp_path: Path,
) -> None:
    repo = _git_repo(tmp_path / "calc")
    settings = load_settings(isolated_env(tmp_path, OLLAMA_HOST="127.0.0.1:9", PWM_ALLOWED_ROOTS=str(tmp_path), **KEYS))
    state = await open_app_state(settings)
    try:
        await state.registry.start_probe()
        description = "Fix add() in calc.py so the tests pass"

        async def both(**task: Any) -> tuple[RouteTaskOutput, TaskPlan]:
            preview = await preview_route(state, RouteTaskInput(task_description=description, **task), [tmp_path])
            spec = TaskSpec.model_validate({"task_description": description, **task})
            group = build_group_input([spec], group_name=None, routing_strategy=None, policy=None,
                                      max_concurrent=None, budget_usd=None, dry_run=True, max_tasks=10)
            (planned,) = (await state.engine.submit(confine_group(group, [tmp_path]))).tasks
            plan = planned.plan
            assert (preview.recommended_variant, preview.recommended_model, preview.fallback_models,
                    preview.estimated_cost, preview.rationale) == (
                plan.variant, plan.model_id, list(plan.fallback_model_ids), plan.estimated_cost, plan.rationale)
            return preview, plan

        validated, plan = await both(workspace=str(repo), validate={"checks": ["test"]})
        assert "try-check-escalate" in validated.rationale
        assert plan.repo == repo_key(repo)
        # A workspace alone is validated by submit, so it is planned as checked here too;
        # validate false and validate without a workspace are not checked, in both.
        assert "try-check-escalate" in (await both(workspace=str(repo)))[0].rationale
        assert "try-check-escalate" not in (await both(workspace=str(repo), validate=False))[0].rationale
        assert "try-check-escalate" not in (await both(validate=True))[0].rationale

        # The speed variant keeps failing this repository's checks: both start higher, alike.
        kind, key = validated.task_type, repo_key(repo)
        assert key is not None
        now = time.time()
        for i in range(8):
            state.perf.tracker.record(AttemptFact(
                model_id=plan.model_id, status="succeeded", started_at=now - 10 + i, task_type=kind,
                variant=validated.recommended_variant, validation_passed=False, repo=key,
            ))
        raised, _plan = await both(workspace=str(repo), validate={"checks": ["test"]})
        assert VARIANTS.index(raised.recommended_variant) > VARIANTS.index(validated.recommended_variant)
        assert "in this repository" in raised.rationale
    finally:
        await state.aclose()


async def test_route_task_names_its_own_fields_in_a_bad_validate(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "calc")
    settings = load_settings(isolated_env(tmp_path, PWM_ALLOWED_ROOTS=str(tmp_path), **KEYS))
    state = await open_app_state(settings)
    try:
        with pytest.raises(InputError) as bad:
            await preview_route(state, RouteTaskInput.model_validate({"task_description": "Fix add()", "workspace": str(repo),
                                                                     "validate": {"checks": ["tset"]}}), [tmp_path])
        assert bad.value.field == "validate.checks"
        with pytest.raises(WorkspaceError, match="^workspace"):
            await preview_route(state, RouteTaskInput(task_description="Fix add()", workspace="/etc"), [tmp_path])
    finally:
        await state.aclose()
