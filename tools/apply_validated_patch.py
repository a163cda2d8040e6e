"""The `apply_validated_patch` tool: write a task's validated patch into the user's working tree.

An explicit, separate request: it refuses a task whose answer did not pass its checks, a dirty
tree, and a tree whose HEAD moved since the commit the patch was validated against. Several
tasks' patches (parallel tasks on one repository) apply one by one, all or nothing: a patch that
conflicts with those before it is refused with a message naming both.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from server.errors import InputError
from server.state import AppState
from server.validation.roots import allowed_roots, confine_path
from tools._shared import app_state, expected_errors, visible_task
from tools.validate_workspace import client_roots

if TYPE_CHECKING:  # loaded when the tool first runs, not with the tool list
    from server.store import Store
    from server.validation.apply_many import PatchToApply

__all__ = ["ApplyPatchOutput", "register"]


class ApplyPatchOutput(BaseModel):
    task_id: str = Field(description="The (last) task applied.")
    workspace: str = Field(description="The repository the patch was applied to.")
    base_commit: str = Field(description="The commit the patch was validated against (still HEAD).")
    files: list[str] = Field(description="Files the patches changed.")
    applied: list[str] = Field(default_factory=list, description="The tasks applied, in order.")


async def _validated_patch(store: Store, task_id: str, field: str) -> tuple[str, PatchToApply]:
    """The task's workspace and its passing patch."""
    from server.validation.apply_many import PatchToApply

    task = await visible_task(store, task_id)
    spec = json.loads(task.validate_json) if task.validate_json else {}
    if not spec.get("workspace"):
        raise InputError(field, f"task {task_id} did not ask for validation (no workspace)")
    passing = [v for v in await store.list_validations(task_id=task.id) if v.passed]
    if task.status != "succeeded" or not passing or not passing[-1].base_commit:
        raise InputError(field, f"task {task_id} has no patch that passed its checks (status {task.status})")
    text = await store.task_result(task.id, 0, 10_000_000)
    return str(spec["workspace"]), PatchToApply(task.id, text.text, passing[-1].base_commit)


async def apply_validated_patch(
    ctx: Context[AppState, Any],
    task_id: Annotated[str | list[str], Field(
        description="The task whose patch to apply, or several to apply one by one (all or nothing).")],
) -> ApplyPatchOutput:
    """Apply the patch a task produced — after it passed its checks in a temporary worktree — to
    the task's workspace. Refuses a task without a passing validation, a working tree with
    uncommitted changes, one whose HEAD moved since the patch was validated, and (several tasks)
    a patch that conflicts with those applied before it."""
    from server.validation.apply_many import apply_patches_to_tree

    state = app_state(ctx)
    ids = [task_id] if isinstance(task_id, str) else list(task_id)
    with expected_errors():
        store = state.store
        if store is None:  # pragma: no cover - a wiring bug
            raise RuntimeError("the store is not open")
        if not ids or any(not i.strip() for i in ids):
            raise InputError("task_id", "give a task id or a non-empty list of them")
        found = [await _validated_patch(store, i, "task_id" if len(ids) == 1 else f"task_id[{n}]")
                 for n, i in enumerate(ids)]
        workspaces = {w for w, _ in found}
        if len(workspaces) > 1:
            raise InputError("task_id", "the tasks belong to different workspaces", "tasks of one repository")
        roots = allowed_roots(await client_roots(ctx), state.settings.allowed_roots)
        workspace = confine_path(found[0][0], roots, field="workspace")
        applied = await apply_patches_to_tree(workspace, [p for _, p in found], env=state.settings.env)
    files = sorted({f for a in applied for f in a.files})
    return ApplyPatchOutput(task_id=found[-1][1].task_id, workspace=str(applied[0].repo_root),
                            base_commit=applied[0].head, files=files, applied=[p.task_id for _, p in found])


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
