"""The `apply_validated_patch` tool: write a task's validated patch into the user's working tree.

An explicit, separate request: it refuses a task whose answer did not pass its checks, a dirty
tree, and a tree whose HEAD moved since the commit the patch was validated against.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.errors import InputError
from server.state import AppState
from server.validation import allowed_roots, apply_patch_to_tree, confine_path
from tools._shared import app_state, expected_errors
from tools.validate_workspace import client_roots

__all__ = ["ApplyPatchOutput", "register"]


class ApplyPatchOutput(BaseModel):
    task_id: str
    workspace: str = Field(description="The repository the patch was applied to.")
    base_commit: str = Field(description="The commit the patch was validated against (still HEAD).")
    files: list[str] = Field(description="Files the patch changed.")


async def apply_validated_patch(
    ctx: Context[AppState, Any],
    task_id: Annotated[str, Field(min_length=1, max_length=64, description="The task whose patch to apply.")],
) -> ApplyPatchOutput:
    """Apply the patch a task produced — after it passed its checks in a temporary worktree — to
    the task's workspace. Refuses a task without a passing validation, a working tree with
    uncommitted changes, and one whose HEAD moved since the patch was validated."""
    state = app_state(ctx)
    with expected_errors():
        store = state.store
        if store is None:  # pragma: no cover - a wiring bug
            raise RuntimeError("the store is not open")
        task = await store.get_task(task_id)
        spec = json.loads(task.validate_json) if task.validate_json else {}
        if not spec.get("workspace"):
            raise InputError("task_id", f"task {task_id} did not ask for validation (no workspace)")
        passing = [v for v in await store.list_validations(task_id=task.id) if v.passed]
        if task.status != "succeeded" or not passing or not passing[-1].base_commit:
            raise InputError("task_id", f"task {task_id} has no patch that passed its checks (status {task.status})")
        roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        workspace = confine_path(str(spec["workspace"]), roots, field="workspace")
        text = await store.task_result(task.id, 0, 10_000_000)
        applied = await apply_patch_to_tree(
            workspace, text.text, base_commit=passing[-1].base_commit, env=state.settings.env
        )
    return ApplyPatchOutput(
        task_id=task.id, workspace=str(applied.repo_root), base_commit=applied.head, files=list(applied.files)
    )


def register(mcp: MCPServer[AppState]) -> None:
    """Add `apply_validated_patch` to the server."""
    mcp.add_tool(
        apply_validated_patch,
        name="apply_validated_patch",
        title="Apply a validated patch",
        annotations=ToolAnnotations(
            title="Apply a validated patch", read_only_hint=False, destructive_hint=True,
            idempotent_hint=False, open_world_hint=False,
        ),
    )
