"""Apply several tasks' validated patches to the user's tree one by one, all or nothing.

Parallel tasks on one repository each validated their patch alone, against the same commit;
applied together, two may touch the same lines. The first patch is applied with every check
of `apply_patch_to_tree` (clean tree, HEAD still at the validated commit); each next one must
apply on top of those before it. When one does not, the ones already applied are reversed and
the error names the task that conflicts, the tasks it follows, and git's explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.validation.worktree import (
    AppliedPatch,
    PatchApplyError,
    _env,
    apply_patch_to_tree,
    patch_strip_level,
    run_git,
)

__all__ = ["PatchToApply", "apply_patches_to_tree"]


@dataclass(frozen=True)
class PatchToApply:
    task_id: str
    diff: str
    base_commit: str


async def apply_patches_to_tree(
    repo_path: Path, patches: Sequence[PatchToApply], *, env: Mapping[str, str]
) -> list[AppliedPatch]:
    """Apply `patches` in order; on a conflict nothing stays applied.

    Raises:
        WorkspaceError: dirty or diverged tree (from the first patch's checks).
        PatchApplyError: a patch that does not apply on top of the ones before it.
    """
    if not patches:
        return []
    first = await apply_patch_to_tree(repo_path, patches[0].diff, base_commit=patches[0].base_commit, env=env)
    child = _env(env)
    root = first.repo_root
    done: list[tuple[PatchToApply, AppliedPatch]] = [(patches[0], first)]
    for patch in patches[1:]:
        if patch.base_commit != first.head and not patch.base_commit.startswith(first.head[:12]):
            await _reverse(root, [p for p, _ in done], child)
            raise PatchApplyError(
                f"task {patch.task_id} was validated at {patch.base_commit[:12]}, not at {first.head[:12]} "
                "like the tasks before it; re-run it on the current HEAD"
            )
        level = f"-p{patch_strip_level(patch.diff)}"
        check = await run_git(["apply", level, "--check", "-"], root, child, patch.diff.encode())
        if check.exit_code != 0:
            await _reverse(root, [p for p, _ in done], child)
            earlier = ", ".join(p.task_id for p, _ in done)
            raise PatchApplyError(
                f"task {patch.task_id} conflicts with task(s) {earlier} applied before it; nothing was applied. "
                f"git says: {check.stderr.strip()[-1500:]}. Apply them separately, or re-run "
                f"{patch.task_id} after applying and committing the others."
            )
        stat = await run_git(["apply", level, "--numstat", "-"], root, child, patch.diff.encode())
        await run_git(["apply", level, "--whitespace=nowarn", "-"], root, child, patch.diff.encode())
        files = tuple(line.split("\t", 2)[2] for line in stat.stdout.splitlines() if line.count("\t") >= 2)
        done.append((patch, AppliedPatch(repo_root=root, head=first.head, files=files)))
    return [applied for _, applied in done]


async def _reverse(root: Path, applied: Sequence[PatchToApply], env: Mapping[str, str]) -> None:
    for patch in reversed(applied):
        await run_git(["apply", f"-p{patch_strip_level(patch.diff)}", "-R", "-"], root, env, patch.diff.encode())
