"""The `route_task` tool: where would this coding task go, on which model, at what cost and why.

Read-only and calls no model: it is the planner's dry run for one task. It runs the same
`plan_task` that `submit_parallel_tasks` runs for each task, under the same strategy, policy,
per-task cap and budget state, on the task as submit would build it (its workspace confined and
its `validate` normalised by submit's own code), so the preview and the real run cannot disagree:
a validated task shows its try-check-escalate plan here too. Only when no
configured provider can serve the task does it still advise from the whole catalogue, and says
that a submission would be refused now.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from server.analysis.tokens import token_counter_status
from server.errors import InputError, NoRouteError, WorkspaceError
from server.state import AppState
from server.validation.roots import allowed_roots
from tools._inputs import (
    AGENT_TYPE_DOC,
    CONTEXT_BUDGET_DOC,
    CONTEXT_MODE_DOC,
    HINTS_DOC,
    POLICY_DOC,
    STRATEGY_DOC,
    WORKSPACE_DOC,
    CallerHints,
    ContextMode,
    caller_hints,
)
from tools._shared import app_state, expected_errors
from tools.submit_parallel_tasks import TaskSpec, build_group_input, confine_group
from tools.surface import ToolServer
from tools.validate_workspace import client_roots

__all__ = ["CONTEXT_PAGE", "RouteTaskInput", "RouteTaskOutput", "context_page", "preview_route", "register", "route_task"]


class RouteTaskInput(CallerHints):
    __doc__ = HINTS_DOC
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    task_description: str = Field(min_length=1, max_length=50_000)
    agent_type: str | None = Field(None, max_length=200, description=AGENT_TYPE_DOC)
    routing_strategy: str | None = Field(None, max_length=50, description=STRATEGY_DOC)
    policy: str | None = Field(None, max_length=50, description=POLICY_DOC)
    workspace: str | None = Field(None, max_length=4096, description=WORKSPACE_DOC)
    context_budget_tokens: int | None = Field(None, ge=64, le=2_000_000, description=CONTEXT_BUDGET_DOC)
    context_mode: ContextMode | None = Field(None, description=CONTEXT_MODE_DOC)
    context_offset: int = Field(0, ge=0, description="Paging of context.files.")
    validate_: dict[str, Any] | bool | None = Field(
        None, alias="validate", description="As in submit: plans try-check-escalate."
    )


class RouteTaskOutput(BaseModel):
    """Where the task goes and why; cost (USD) and time (s) of one call on recommended_model."""

    task_type: str
    complexity_score: float = Field(
        ge=1, le=10, description="1-10, one decimal; the variant thresholds cut it rounded half up.")
    confidence: float = Field(ge=0, le=1)
    scope: str = Field(description="function, file, multi_file or system.")
    risks: list[str]
    signals: list[str] = Field(description="What the analysis read.")
    estimated_input_tokens: int
    estimated_output_tokens: int
    max_tokens: int
    token_counter: str = Field(description="tiktoken:cl100k_base, or estimate.")
    recommended_variant: Literal["speed", "balanced", "quality"]
    agent_name: str
    recommended_model: str
    fallback_models: list[str] = Field(description="Next in the same variant, in order.")
    escalation: dict[str, list[str]] = Field(description="Higher variants' models, for retries.")
    estimated_cost: float = Field(ge=0)
    estimated_time: float = Field(ge=0)
    rationale: str
    subtasks: list[str] = Field(description="Independent pieces of a joined description.")
    excluded_models: dict[str, str] = Field(description="Model -> why it was left out.")
    strategy: str
    policy: str | None
    notes: list[str]
    context: dict[str, Any] | None = Field(
        None, description="With a workspace: files [{path, start_line, end_line, tokens, reason}] (a page; "
        "files_next_offset), total_tokens, budget_tokens, repo_tokens, commit, mode (code or summary).")


CONTEXT_PAGE = 40
"""Pieces listed per answer: at about 200 characters each, a page stays near 2k tokens however large
the budget (at 400,000 tokens a selection on this repository has over 200 pieces)."""


def context_page(selection: dict[str, Any], offset: int) -> dict[str, Any]:
    """`selection` with `files` cut to one page from `offset` (totals stay those of the whole)."""
    files = list(selection.get("files") or [])
    end = offset + CONTEXT_PAGE
    return {**selection, "files": files[offset:end], "files_total": len(files), "files_offset": offset,
            "files_next_offset": end if end < len(files) else None}


async def preview_route(
    state: AppState, args: RouteTaskInput, roots: Sequence[Path] | None = None
) -> RouteTaskOutput:
    """Plan one task as a submission would (the tool's body, callable without MCP).

    `roots`: where a workspace may be (default: the configured allowed roots).

    With a workspace, the plan is made again with the code the model will be shown counted in its
    input tokens (and so in its cost), and the selection attached. The selection is made for the
    planned model's budget; if counting it moves the task to another model, once more for that one's.

    Raises:
        InputError: unknown agent type, strategy or policy, an empty description, or a bad
            `validate` / `context_budget_tokens`.
        WorkspaceError: a workspace outside the roots, or not a git repository.
        NoRouteError: no model in the catalogue can serve the task under the given constraints.
    """
    from server.context import options_for
    from server.scheduler.planner import (  # loaded with the engine, not the tool list
        plan_context,
        plan_with_workspace,
    )

    settings = state.settings
    policy = args.policy or settings.default_policy
    budget = await state.store.budget_status(state.engine.budget_limits(None, policy))
    context = plan_context(
        state.router, strategy=args.routing_strategy, policy=args.policy,
        default_strategy=settings.default_strategy, default_policy=settings.default_policy,
        per_task_cap=settings.budgets.per_task, budget_paused=budget.state == "stop",
        local_only=settings.local_only,
    )
    spec = TaskSpec.model_validate({
        "agent_type": args.agent_type or None, "task_description": args.task_description,
        "workspace": args.workspace, "context_budget_tokens": args.context_budget_tokens,
        "context_mode": args.context_mode,
        "validate": args.validate_, **caller_hints(args),
    })
    try:
        group = build_group_input([spec], group_name=None, routing_strategy=args.routing_strategy,
                                  policy=args.policy, max_concurrent=None, budget_usd=None, dry_run=True, max_tasks=1)
        group = confine_group(group, roots if roots is not None else allowed_roots(None, settings.allowed_roots))
    except InputError as exc:  # submit's code names `tasks[0].<field>`: here it is `<field>`
        raise InputError(exc.field.removeprefix("tasks[0]."), exc.problem, exc.accepted) from None
    except WorkspaceError as exc:
        raise WorkspaceError(str(exc).removeprefix("tasks[0].")) from None
    (task,) = group.tasks
    notes: list[str] = []
    options = options_for(settings)
    try:
        routed, chosen = await plan_with_workspace(task, context, catalog=state.catalog, router=state.router,
                                                   options=options)
    except NoRouteError:
        routed, chosen = await plan_with_workspace(task, context, catalog=state.catalog, router=state.router,
                                                   options=options, require_available=False)
        notes.append("no configured provider can serve this task now: submit_parallel_tasks would refuse it")
    analysis, plan = routed.analysis, routed.route
    out = RouteTaskOutput(
        task_type=analysis.task_type,
        complexity_score=analysis.score,
        confidence=analysis.confidence,
        scope=analysis.scope,
        risks=list(analysis.risks),
        signals=list(analysis.signals),
        estimated_input_tokens=plan.input_tokens,
        estimated_output_tokens=plan.output_tokens,
        max_tokens=plan.max_tokens,
        token_counter=token_counter_status(),
        recommended_variant=plan.variant,
        agent_name=plan.agent_name,
        recommended_model=plan.model_id,
        fallback_models=list(plan.fallback_model_ids),
        escalation={variant: list(ids) for variant, ids in plan.escalation},
        estimated_cost=plan.estimated_cost,
        estimated_time=plan.estimated_time,
        rationale=plan.rationale,
        subtasks=list(analysis.subtasks),
        excluded_models=dict(plan.excluded),
        strategy=plan.strategy,
        policy=plan.policy,
        notes=[*plan.notes, *notes],
    )
    if chosen is not None:
        out.context = context_page(chosen["selection"], args.context_offset)
    return out


async def route_task(ctx: Context[AppState, Any], args: RouteTaskInput) -> RouteTaskOutput:
    """Where one coding task would go: agent variant, model, fallbacks, estimated cost and time, why.

    A dry run of submit_parallel_tasks' planning (same analysis, strategy, caps, budget); calls no model.
    """
    with expected_errors():
        state = app_state(ctx)
        roots = None
        if args.workspace is not None or args.validate_ is not None:
            roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        return await preview_route(state, args, roots)


def register(mcp: ToolServer) -> None:
    """Add `route_task` to the server."""
    mcp.add_model_tool(
        route_task,
        RouteTaskInput,
        name="route_task",
        title="Route a coding task",
        annotations=ToolAnnotations(
            title="Route a coding task",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
