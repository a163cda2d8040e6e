"""Cost and performance tools and resources.

Tools: `get_cost_report` (spend, calls, tokens, success, latency, budget, saving, and
recommendations with evidence), `get_routing_insights` (what routing has learned per task type x
model, per task type x variant and per repository, and each model's health),
`reset_routing_insights` (forget it, optionally one repository's).
Resources: `pwm://models{?tier}` (the catalogue), `pwm://budget{?group}` (budget status), `pwm://groups/{group}`
(a group's full results: every task's whole output and every attempt).

The logic lives in `server.perf`; these wrappers validate, convert errors and shape output. The
report and the insights grow with what was recorded: each reply is a page of their lists (`offset`,
`limit`; `list_totals`, `next_offset`; see `tools._pages`), with a line saying what it holds before
the data, as get_parallel_group_status answers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from server.errors import InputError, NotFoundError
from server.formatting import plural, usd
from server.state import AppState
from server.validation.roots import allowed_roots, confine_path
from tools._pages import page_of, page_words
from tools._shared import app_state, expected_errors, summary_and_data
from tools.validate_workspace import client_roots

if TYPE_CHECKING:
    from server.perf.service import PerfServices

__all__ = ["CostReport", "RoutingInsights", "register"]

# server.perf.report.GROUP_BY_CHOICES, spelled out so listing the tools does not load the reports
# (tests/perf/test_performance_tools.py checks they agree).
GroupBy = Literal["model", "agent", "policy", "group", "day", "provider", "variant", "task_type"]


def perf_services(state: AppState) -> PerfServices:
    """`server.perf.service.perf_services`, imported when a tool first runs."""
    from server.perf.service import perf_services as services_of

    return services_of(state)


class CostReport(BaseModel):
    """Spend and performance over a period, with recommendations."""

    days: float = Field(description="Days covered, ending now.")
    group_by: str = Field(description="What each row is: model, agent, policy, group, day, ...")
    totals: dict[str, Any] = Field(
        description="spend_usd, calls, successes, failures, success_rate, tokens, latency_ms p50/p95/p99, "
        "output_tokens_per_s, error_classes, quality_baseline_usd, saving_usd, saving_pct, at_paid_prices."
    )
    rows: list[dict[str, Any]] = Field(description="The same figures per `key` of the grouping (a page).")
    budget: dict[str, Any] | None = Field(description="Budget periods: limit, spent, reserved, state ok|warn|stop.")
    baseline: str = Field(description="How the saving is measured.")
    recommendations: list[dict[str, Any]] = Field(
        description="A page, biggest saving first. Each: kind, recommendation, action, evidence, estimated_saving_usd "
        "(and per 30 days)."
    )
    list_totals: dict[str, int] = Field(description="How many rows and recommendations there are in all.")
    next_offset: int | None = Field(description="Offset of the next page; None: last page.")


class RoutingInsights(BaseModel):
    """What routing has learned from recorded calls."""

    window_hours: float
    half_life_hours: float = Field(description="Evidence this old weighs half as much as a call now.")
    prior_strength: float = Field(description="Pseudo-calls the manifest prior is worth in each cell.")
    models: list[dict[str, Any]] = Field(description="Per model: health (healthy|demoted|cooled|probe_due|probing), why, events.")
    cells: list[dict[str, Any]] = Field(description="Per task type x model: decayed evidence, cost, latency, score adjustment.")
    task_types: dict[str, Any] = Field(description="Per task type: each variant's success, cost per success; the best one.")
    repos: list[dict[str, Any]] = Field(description="Per task type x repository: the same, shrunk towards the task type's.")
    resets: list[dict[str, Any]]
    list_totals: dict[str, int] = Field(description="How many models, cells, task_types and repos there are in all.")
    next_offset: int | None = Field(description="Offset of the next page; None: last page.")


class ResetResult(BaseModel):
    reset_cells: int
    task_type: str | None
    model_id: str | None
    repo: str | None
    at: float
    cleared_misconfigured: list[str] = Field(description="Models marked misconfigured (401/403/404) tried again now.")


REPO_DOC = "Repository key (see insights) or workspace path."
OFFSET_DOC = "Items of each list to skip (next_offset of the last reply)."
LIMIT_DOC = "Items of each list per reply."
# Items of each list per reply by default, so that a full page stays near 6k tokens, well under the
# 10k at which clients warn: a report row is ~220 tokens and a recommendation up to ~300; of the
# insights, a model's health is up to ~410 (its last ten events), a repository's record ~380, a task
# type's ~250 and a cell ~130, four lists cut alike.
REPORT_PAGE = 10
INSIGHTS_PAGE = 5
MAX_PAGE_LIMIT = 50


async def _repo_key(ctx: Context[AppState, Any], repo: str | None) -> str | None:
    """The key `repo` names: a workspace path is confined and read; anything else is a key.

    Raises:
        WorkspaceError: a path outside the allowed roots.
        InputError: a path that is not inside a git repository.
    """
    if repo is None or not repo.startswith(("/", "~", ".")):
        return repo
    roots = allowed_roots(await client_roots(ctx), app_state(ctx).settings.allowed_roots)
    from server.perf.repos import repo_key

    key = repo_key(confine_path(repo, roots, field="repo"))
    if key is None:
        raise InputError("repo", f"{repo!r} is not inside a git repository", REPO_DOC)
    return key


async def get_cost_report(
    ctx: Context[AppState, Any],
    days: Annotated[float, Field(gt=0, le=366, description="How many days back, ending now (the seed's `report 7`).")] = 7.0,
    group_by: Annotated[
        GroupBy, Field(description="One row per model, agent, policy, group, day, provider, variant or task_type.")
    ] = "model",
    offset: Annotated[int, Field(ge=0, description=OFFSET_DOC)] = 0,
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_LIMIT, description=LIMIT_DOC)] = REPORT_PAGE,
) -> Annotated[CallToolResult, CostReport]:
    """Where the money went: spend, calls, tokens, success and latency per row; budget; the saving
    against each agent's quality model (also at paid prices); recommendations with evidence."""
    with expected_errors():
        report = await perf_services(app_state(ctx)).report(days=days, group_by=group_by)
    page = page_of({"rows": report["rows"], "recommendations": report["recommendations"]}, offset, limit)
    output = CostReport.model_validate({**report, **page.lists, "list_totals": page.totals,
                                        "next_offset": page.next_offset})
    totals = output.totals
    rate = totals.get("success_rate")
    head = (f"Cost report, last {days:g} days by {group_by}: {usd(float(totals.get('spend_usd') or 0.0))} over "
            f"{plural(int(totals.get('calls') or 0), 'call')}"
            + (f", success {rate:.0%}" if isinstance(rate, (int, float)) else "") + ".")
    words = page_words(page, {"rows": "Rows", "recommendations": "recommendations"})
    return summary_and_data(f"{head}\n{words}", output.model_dump(mode="json"))


async def get_routing_insights(
    ctx: Context[AppState, Any],
    task_type: Annotated[str | None, Field(max_length=100, description="Only this task type.")] = None,
    model_id: Annotated[str | None, Field(max_length=300, description="Only this model id.")] = None,
    offset: Annotated[int, Field(ge=0, description=OFFSET_DOC)] = 0,
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_LIMIT, description=LIMIT_DOC)] = INSIGHTS_PAGE,
) -> Annotated[CallToolResult, RoutingInsights]:
    """What routing learned from recorded calls: per task type x model the decayed evidence,
    cost, latency, score adjustment; per task type (and repository) the cheapest passing variant
    and its evidence; per model its health."""
    with expected_errors():
        services = perf_services(app_state(ctx))
        await services.ensure_fresh()
        insights = services.tracker.insights(task_type, model_id)
    lists = ("models", "cells", "task_types", "repos")
    page = page_of({name: insights[name] for name in lists}, offset, limit)
    output = RoutingInsights.model_validate({**insights, **page.lists, "list_totals": page.totals,
                                             "next_offset": page.next_offset})
    words = page_words(page, {"models": "Models", "cells": "cells", "task_types": "task types", "repos": "repositories"})
    return summary_and_data(f"Routing insights over the last {output.window_hours:g} hours.\n{words}",
                            output.model_dump(mode="json"))


async def reset_routing_insights(
    ctx: Context[AppState, Any],
    task_type: Annotated[str | None, Field(max_length=100, description="Only this task type.")] = None,
    model_id: Annotated[
        str | None, Field(max_length=300, description="Only this model (clears its demotion and misconfigured mark too).")
    ] = None,
    repo: Annotated[
        str | None, Field(max_length=4096, description=REPO_DOC)
    ] = None,
) -> ResetResult:
    """Forget what routing learned: all, or a task type, a model or a repository's own record.
    Recorded calls stay for reports."""
    with expected_errors():
        state = app_state(ctx)
        services = perf_services(state)
        if model_id is not None and model_id not in services.catalog.models:
            raise InputError("model_id", f"unknown model {model_id!r}", "an id from the pwm://models resource")
        if model_id is not None and repo is not None:
            raise InputError("repo", "give model_id or repo, not both",
                             "a repository's record is per variant: drop model_id to forget it")
        key = await _repo_key(ctx, repo)
        reset = services.tracker.reset(task_type, model_id, key)
        # As with a demotion: a model's health is forgotten with the model, or with everything.
        whole_model = task_type is None and key is None
        cleared = state.registry.clear_misconfigured(model_id) if whole_model else []
        return ResetResult.model_validate({**reset, "cleared_misconfigured": cleared})


async def models_resource(ctx: Context[AppState, Any], tier: str | None = None) -> str:
    """The model catalogue (prices per million tokens, context windows, tiers, quality scores,
    current health); `?tier=local|free|paid` narrows it."""
    state = app_state(ctx)
    services = perf_services(state)
    models = {
        mid: m.model_dump(mode="json") for mid, m in state.catalog.models.items() if tier is None or m.tier == tier
    }
    for mid, row in models.items():
        row["health"] = services.tracker.health[mid].state(services.tracker.clock()) if mid in services.tracker.health else "healthy"
    return json.dumps({"models": models, "providers": sorted(state.catalog.providers)}, indent=1)


async def budget_resource(ctx: Context[AppState, Any], group: str | None = None) -> str:
    """Budget status: each period's limit, spend, reservations in flight and state (ok|warn|stop);
    `?group=<id or name>` adds that group's own budget."""
    state = app_state(ctx)
    services = perf_services(state)
    with expected_errors():
        group_id = (await services.store.get_group(group)).id if group and services.store else None
        from server.perf.service import read_budget

        budget = await read_budget(state.settings, services.store, group_id=group_id)
    return json.dumps(budget or {"periods": [], "state": "ok", "note": "no calls recorded yet"}, indent=1)


async def group_resource(group: str, ctx: Context[AppState, Any]) -> str:
    """A group's full results: every task with its whole output, and every attempt (the path taken)."""
    state = app_state(ctx)
    store = perf_services(state).store
    if store is None:
        raise NotFoundError("group results need the server's store (not running in this process)")
    with expected_errors():
        record = await store.get_group(group)
        tasks = await store.list_tasks(record.id, preview_chars=0)
        attempts = await store.list_attempts(group_id=record.id)
        out_tasks = []
        for task in tasks:
            text, offset = "", 0
            while task.result_chars:
                piece = await store.task_result(task.id, offset, 200_000)
                text += piece.text
                if piece.next_offset is None:
                    break
                offset = piece.next_offset
            row = {k: v for k, v in task.__dict__.items() if k not in ("result_preview",)}
            row["result"] = text if task.result_chars else None
            out_tasks.append(row)
    return json.dumps(
        {"group": record.__dict__, "tasks": out_tasks, "attempts": [a.__dict__ for a in attempts]}, indent=1, default=str
    )


def register(mcp: MCPServer[AppState]) -> None:
    """Add the performance tools and resources to the server."""
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    mcp.add_tool(get_cost_report, name="get_cost_report", title="Cost and performance report",
                 annotations=read_only, structured_output=True)
    mcp.add_tool(get_routing_insights, name="get_routing_insights", title="What routing has learned",
                 annotations=read_only, structured_output=True)
    mcp.add_tool(
        reset_routing_insights, name="reset_routing_insights", title="Forget learned routing",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                    open_world_hint=False),
        structured_output=True,
    )
    # Query-template URIs: a static resource cannot reach the lifespan state in this SDK, and
    # `pwm://models` / `pwm://budget` still match with the query left out.
    mcp.resource("pwm://models{?tier}", name="models", title="Model catalogue",
                 mime_type="application/json")(models_resource)
    mcp.resource("pwm://budget{?group}", name="budget", title="Budget status",
                 mime_type="application/json")(budget_resource)
    mcp.resource("pwm://groups/{group}", name="group_results", title="A group's full results",
                 mime_type="application/json")(group_resource)
