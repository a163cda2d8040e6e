"""The `plan_milestone` tool: a cheap model turns a milestone into a checked checklist, returned
for review or submitted as a group of validated tasks (`submit: true`).

The logic lives in `server.workflows.milestone`; this wrapper confines the workspace, converts
errors and shapes the answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.state import AppState
from server.validation.roots import allowed_roots, confine_path
from tools._shared import app_state, expected_errors
from tools.validate_workspace import client_roots

__all__ = ["PlanMilestoneOutput", "register"]


class PlanItemOut(BaseModel):
    id: str
    title: str
    description: str
    depends_on: list[str]
    tests: list[str]
    files: list[str]
    command: list[str]
    task_id: str | None = None


class PlanMilestoneOutput(BaseModel):
    """Items in dependency order; retried_for: the first plan's problems if it was redone."""

    items: list[PlanItemOut]
    planner_groups: list[str]
    planner_cost: float
    retried_for: list[str]
    group_id: str | None


async def plan_milestone(
    ctx: Context[AppState, Any],
    milestone: Annotated[str, Field(min_length=1, max_length=20_000)],
    workspace: Annotated[str, Field(min_length=1, max_length=4096, description="A git repository.")],
    submit: Annotated[bool, Field(description="Run it now.")] = False,
    agent_type: Annotated[str | None, Field(max_length=200)] = None,
) -> PlanMilestoneOutput:
    """A cheap model splits a milestone into small items with dependencies and a check each (tests,
    files to change, a command), validated; submit runs them as validated tasks."""
    from server.workflows.milestone import (  # loaded when first called, not with the tool list
        MilestoneRequest,
        checklist_group,
        draft_checklist,
        item_command,
    )

    state = app_state(ctx)
    with expected_errors():
        roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        path = confine_path(workspace, roots, field="workspace")
        request = MilestoneRequest(milestone=milestone, workspace=path, agent_type=(agent_type or "").strip(),
                                   wait_s=state.settings.tool_time_limit_s)
        drafted = await draft_checklist(state.engine, request)
        task_ids: dict[str, str | None] = {}
        group_id = None
        if submit:
            result = await state.engine.submit(checklist_group(drafted.checklist, request))
            group_id = result.group_id
            task_ids = {t.key: t.task_id for t in result.tasks}
    items = [
        PlanItemOut(id=i.id, title=i.title, description=i.description, depends_on=list(i.depends_on),
                    tests=list(i.check.tests), files=list(i.check.files), command=item_command(i),
                    task_id=task_ids.get(i.id))
        for key in drafted.checklist.order for i in drafted.checklist.items if i.id == key
    ]
    return PlanMilestoneOutput(items=items, planner_groups=list(drafted.planner_groups),
                               planner_cost=drafted.planner_cost, retried_for=list(drafted.retried_for),
                               group_id=group_id)


def register(mcp: MCPServer[AppState]) -> None:
    """Add `plan_milestone` to the server."""
    mcp.add_tool(
        plan_milestone, name="plan_milestone", title="Plan a milestone",
        annotations=ToolAnnotations(title="Plan a milestone", read_only_hint=False,
                                    destructive_hint=False, idempotent_hint=False, open_world_hint=True),
    )
