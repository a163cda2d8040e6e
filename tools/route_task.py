"""The `route_task` tool: where would this coding task go, on which model, at what cost and why.

Read-only: it analyses the description, routes it over the catalogue and returns the plan; it
calls no model. `RouteTaskInput` is the single source of the tool's arguments: the tool
function's signature is generated from it, so the published input schema carries its field
descriptions and constraints, and a bad argument is reported with the field's name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.analysis import TASK_TYPES, TaskHints, analyze, token_counter_status
from server.context import ContextOptions, default_budget, select_context
from server.errors import InputError, NoRouteError
from server.routing import Router, RouteRequest, parse_agent_type
from server.state import AppState
from server.validation import allowed_roots, confine_path
from tools._shared import app_state, expected_errors
from tools.validate_workspace import client_roots

__all__ = ["RouteTaskInput", "RouteTaskOutput", "register", "route_task"]

TaskType = Literal[TASK_TYPES]  # type: ignore[valid-type]


class RouteTaskInput(BaseModel):
    """Arguments of `route_task`."""

    model_config = ConfigDict(extra="forbid")

    task_description: str = Field(
        min_length=1,
        max_length=50_000,
        description="What the coding task is, in a sentence or a short paragraph.",
    )
    agent_type: str | None = Field(
        None,
        max_length=200,
        description=(
            "Agent type, e.g. 'aria_coder_backend'. A variant suffix (_speed/_balanced/_quality) "
            "pins the variant; a trailing _N is a worker label. Omit to let the task type decide."
        ),
    )
    urgent: bool = Field(False, description="The task is urgent (speed_first sends simple urgent work to _speed).")
    time_sensitive: bool = Field(False, description="Same as urgent: the result is needed soon.")
    severity: Literal["low", "medium", "high", "critical"] | None = Field(
        None, description="For bugs: how bad it is. cost_optimized sends critical work to _quality."
    )
    estimated_effort: Literal["trivial", "simple", "moderate", "complex", "very_complex"] | None = Field(
        None, description="The caller's effort estimate; clamps the complexity score into its band."
    )
    quality_requirement: Literal["low", "standard", "high", "enterprise"] | None = Field(
        None, description="How good the result must be; 'enterprise' keeps quality_first on _quality."
    )
    cost_sensitive: bool = Field(False, description="Prefer cheaper models where quality allows.")
    enterprise_requirements: bool = Field(False, description="Enterprise-grade work (same as quality_requirement=enterprise).")
    quality_critical: bool = Field(False, description="Mistakes are expensive; avoid the cheapest variant.")
    production_code: bool = Field(False, description="The result goes to production.")
    performance_target: str | None = Field(
        None, max_length=50, description="A performance target such as 'speed_critical'."
    )
    routing_strategy: str | None = Field(
        None,
        max_length=50,
        description=(
            "speed_first, cost_optimized, quality_first, balanced or intelligent_auto (= balanced). "
            "Default: the server's configured strategy."
        ),
    )
    policy: str | None = Field(
        None,
        max_length=50,
        description="Routing policy with per-task cost and token caps: normal, deep_research, code or ops.",
    )
    context_tokens: int | None = Field(
        None, ge=0, le=10_000_000, description="Tokens of context (files, logs) that will be sent with the task."
    )
    files: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description="Files the task touches, each optionally with a line range ('src/app/auth.py:40-120'); their "
        "count sets the scope (and ~1500 tokens each if no context_tokens). With a workspace they are shown first.",
    )
    workspace: str | None = Field(
        None, max_length=4096,
        description="The task's git repository (inside the allowed roots): the answer then says which code the "
        "model would be shown from it, under 'context'.",
    )
    context_budget_tokens: int | None = Field(
        None, ge=64, le=2_000_000,
        description="Tokens of workspace code the model may be shown (default: from the model's window and the policy).",
    )
    budget_mode: Literal["normal", "local_only", "free_only"] = Field(
        "normal", description="local_only: only local models; free_only: no paid models."
    )
    min_variant: Literal["speed", "balanced", "quality"] | None = Field(
        None, description="Never route below this variant."
    )
    max_cost: float | None = Field(
        None, gt=0, le=1000, description="Per-task cost cap in USD (the tighter of this and the policy's applies)."
    )
    complexity: int | None = Field(None, ge=1, le=10, description="Explicit complexity 1-10; overrides the analysis.")
    task_type: TaskType | None = Field(None, description="Explicit kind of work; overrides the analysis.")


class ContextFileOut(BaseModel):
    path: str = Field(description="Relative to the repository root.")
    start_line: int = Field(ge=1, description="First line shown (1-based).")
    end_line: int = Field(ge=1, description="Last line shown (inclusive); a whole file has its full range.")
    tokens: int = Field(ge=0, description="Tokens this piece takes in the prompt.")
    reason: str = Field(description="requested, symbol, ranked, neighbour or whole_file.")


class ContextOut(BaseModel):
    files: list[ContextFileOut]
    total_tokens: int = Field(description="Tokens of all pieces plus the repository map; never above the budget.")
    budget_tokens: int
    repo_map_tokens: int = Field(0, description="Tokens of the map of paths and signatures in the room left.")
    repo_tokens: int = Field(0, description="Estimated tokens of the whole repository's candidate files.")
    commit: str | None = Field(None, description="The commit read; None for the working tree.")


class RouteTaskOutput(BaseModel):
    """Where the task goes and why."""

    task_type: str = Field(description="Kind of work read from the description (crud, ui, api, security, ...).")
    complexity_score: int = Field(ge=1, le=10, description="Engineering effort and risk, 1 (trivial) to 10.")
    confidence: float = Field(ge=0, le=1, description="How sure the analysis is (1.0 for an explicit complexity).")
    scope: str = Field(description="function, file, multi_file or system.")
    risks: list[str] = Field(description="Risk categories found (payment, auth, concurrency, ...).")
    signals: list[str] = Field(description="What the analysis read, for transparency.")
    estimated_input_tokens: int = Field(description="Prompt tokens: role prompt + description + context.")
    estimated_output_tokens: int = Field(description="Expected answer tokens, capped by max_tokens.")
    max_tokens: int = Field(description="Answer token cap that would be sent.")
    token_counter: str = Field(description="'tiktoken:cl100k_base' when counted, 'estimate' when estimated.")
    recommended_variant: Literal["speed", "balanced", "quality"]
    agent_name: str = Field(description="Full agent name, e.g. 'aria_coder_backend_speed'.")
    recommended_model: str = Field(description="Catalogue model id of the first choice.")
    fallback_models: list[str] = Field(description="Next models to try in the same variant, in order.")
    escalation: dict[str, list[str]] = Field(description="Higher variants and their models, for retries that escalate.")
    estimated_cost: float = Field(ge=0, description="USD for one call on the recommended model.")
    estimated_time: float = Field(ge=0, description="Seconds until the answer has streamed.")
    rationale: str = Field(description="One line: why this variant and model.")
    subtasks: list[str] = Field(description="Independent pieces, when the description joins several.")
    excluded_models: dict[str, str] = Field(description="Models left out, with the reason.")
    strategy: str
    policy: str | None
    notes: list[str] = Field(description="Anything else worth knowing (budget mode, provider not configured).")
    context: ContextOut | None = Field(
        None, description="With a workspace: the code the model would see, in rank order, within the budget.")


def _router(state: AppState) -> Router:
    router = state.extras.get("router")
    if not isinstance(router, Router) or router.catalog is not state.catalog:
        router = Router(
            state.catalog,
            availability=state.extras.get("availability"),
            performance=state.extras.get("performance"),
            allow_unknown_prices=state.settings.allow_unknown_prices,
        )
        state.extras["router"] = router
    return router


def plan_route(state: AppState, args: RouteTaskInput) -> RouteTaskOutput:
    """Analyse and route one task (the tool's body, callable without MCP).

    Raises:
        InputError: unknown agent type, strategy or policy, or an empty description.
        NoRouteError: no model can serve the task under the given constraints.
    """
    catalog, settings = state.catalog, state.settings
    agent = parse_agent_type(args.agent_type, catalog) if args.agent_type else None
    hints = TaskHints(
        agent_type=args.agent_type,
        urgent=args.urgent,
        time_sensitive=args.time_sensitive,
        severity=args.severity,
        estimated_effort=args.estimated_effort,
        quality_requirement=args.quality_requirement,
        cost_sensitive=args.cost_sensitive,
        enterprise_requirements=args.enterprise_requirements,
        quality_critical=args.quality_critical,
        production_code=args.production_code,
        performance_target=args.performance_target,
        context_tokens=args.context_tokens,
        files=tuple(args.files),
        budget_mode=args.budget_mode,
        complexity=args.complexity,
        task_type=args.task_type,
    )
    router = _router(state)
    strategy = args.routing_strategy or settings.default_strategy
    policy = args.policy or (settings.default_policy if settings.default_policy in catalog.policies else None)
    router.strategy(strategy)  # fail on a bad strategy before analysing
    analysis = analyze(args.task_description, hints)
    caps = [c for c in (args.max_cost, settings.budgets.per_task) if c is not None]
    request = RouteRequest(
        analysis=analysis,
        agent=agent,
        strategy=strategy,
        policy=policy,
        hints=hints,
        min_variant=args.min_variant,
        local_only=settings.local_only,
        max_cost=min(caps) if caps else None,
        require_available=True,
    )
    try:
        # Prefer models the user can actually run; with none configured, still advise (and say so).
        plan = router.route(request)
    except NoRouteError:
        plan = router.route(dataclasses.replace(request, require_available=False))
    return RouteTaskOutput(
        task_type=analysis.task_type,
        complexity_score=analysis.complexity,
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
        notes=list(plan.notes),
    )


async def route_task(ctx: Context[AppState, Any], **arguments: Any) -> RouteTaskOutput:
    """Recommend the agent variant and model for one coding task, with its estimated cost and time.

    Reads the task's kind of work, risk and scope, scores complexity 1-10, applies the routing
    strategy, the policy's caps and the budget mode, and explains the choice. Calls no model.
    """
    try:
        args = RouteTaskInput.model_validate(arguments)
    except ValidationError as exc:  # the schema already checked these; kept for direct callers
        raise ToolError(str(exc)) from exc
    with expected_errors():
        state = app_state(ctx)
        if args.context_budget_tokens is not None and args.workspace is None:
            raise InputError("context_budget_tokens", "needs a workspace to take code from",
                             "set workspace to the task's git repository, or drop context_budget_tokens")
        out = plan_route(state, args)
        if args.workspace is None:
            return out
        roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        workspace = confine_path(args.workspace, roots, field="workspace")
        model = state.catalog.models[out.recommended_model]
        policy = state.catalog.policies.get(out.policy) if out.policy else None
        budget = args.context_budget_tokens or default_budget(
            model.context_window, model.max_output_tokens, policy.max_tokens if policy else None)
        options = ContextOptions(state.settings.cache_dir, state.settings.context_exclude)
        selection = await asyncio.to_thread(select_context, workspace, args.task_description, args.files, budget, options)
        out.context = ContextOut(
            files=[ContextFileOut(path=i.path, start_line=i.start_line, end_line=i.end_line, tokens=i.tokens,
                                  reason=i.reason) for i in selection.items],
            total_tokens=selection.total_tokens, budget_tokens=selection.budget_tokens,
            repo_map_tokens=selection.repo_map_tokens, repo_tokens=selection.repo_tokens, commit=selection.commit,
        )
        return out


def _signature_from(model: type[BaseModel]) -> tuple[list[inspect.Parameter], dict[str, Any]]:
    """Keyword parameters (with the fields' types, constraints and descriptions) for `model`."""
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation: Any = Annotated[(field.annotation, *field.metadata, Field(description=field.description))]
        if field.is_required():
            default: Any = inspect.Parameter.empty
        else:
            default = field.get_default(call_default_factory=True)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
        annotations[name] = annotation
    return params, annotations


_params, _annotations = _signature_from(RouteTaskInput)
_ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)
route_task.__signature__ = inspect.Signature([_ctx, *_params], return_annotation=RouteTaskOutput)  # type: ignore[attr-defined]
route_task.__annotations__ = {"ctx": Context, **_annotations, "return": RouteTaskOutput}


def register(mcp: MCPServer[AppState]) -> None:
    """Add `route_task` to the server."""
    mcp.add_tool(
        route_task,
        name="route_task",
        title="Route a coding task",
        annotations=ToolAnnotations(
            title="Route a coding task",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
        structured_output=True,
    )
