"""An agent's own git worktree: a fresh branch at the task's base commit in a temporary
directory, the diff of everything the agent changed there, and its removal afterwards.

Parallel agents on one repository each get their own worktree and branch
(`pwm/agent/<task id>`), so they never see each other's edits; the user's working tree is
never touched. The checkout's installed dependencies are there too (`link_installed`).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from server.errors import WorkspaceError, not_a_repository
from server.validation import leftovers
from server.validation.procs import child_env
from server.validation.worktree import link_installed, new_worktree_folder, staged_diff
from server.validation.worktree import run_git as git

__all__ = ["AgentWorkspace", "git"]


def _branch_name(task_id: str) -> str:
    return "pwm/agent/" + (re.sub(r"[^A-Za-z0-9._-]+", "-", task_id).strip("-.") or "task")


@dataclass
class AgentWorkspace:
    """A worktree at `base_commit` on branch `branch`; `cleanup()` removes both."""

    repo_root: Path
    path: Path
    base_commit: str
    branch: str
    env: dict[str, str] = field(repr=False, default_factory=dict)
    # The caller's workspace as a folder of the repository ("" for its root, else ending in "/"):
    # its checks run there, and a path the agent gives from that folder is read from it.
    folder: str = ""
    _closed: bool = False

    @classmethod
    async def create(
        cls, repo_path: Path, *, task_id: str, env: Mapping[str, str], base: str = "HEAD"
    ) -> AgentWorkspace:
        """Raises: WorkspaceError (not a repository, `base` not a commit, worktree not creatable)."""
        child = child_env(env)
        top = await git(["rev-parse", "--show-toplevel"], repo_path, child)
        if top.exit_code != 0:
            raise not_a_repository("workspace", repo_path, top.stderr)
        root = Path(top.stdout.strip())
        rev = await git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], root, child)
        if rev.exit_code != 0:
            raise WorkspaceError(f"base: {base!r} is not a commit in {root}")
        sha = rev.stdout.strip()
        parent = await new_worktree_folder("pwm-agent-", root, child)
        branch = _branch_name(task_id)
        added = await git(["worktree", "add", "--quiet", "-B", branch, str(parent / "tree"), sha], root, child)
        if added.exit_code != 0:
            await asyncio.to_thread(shutil.rmtree, parent, True)
            leftovers.forget(parent)
            raise WorkspaceError(f"cannot create a worktree of {root}: {added.stderr.strip()}")
        await link_installed(root, parent / "tree", child)
        asked, real_root = await asyncio.to_thread(repo_path.resolve), await asyncio.to_thread(root.resolve)
        folder = f"{asked.relative_to(real_root).as_posix()}/" if real_root in asked.parents else ""
        return cls(repo_root=root, path=(parent / "tree").resolve(), base_commit=sha, branch=branch, env=child,
                   folder=folder)

    async def diff(self) -> str:
        """Everything changed in the worktree since `base_commit` (new files included), as a
        unified diff with git's a/ b/ prefixes."""
        return await staged_diff(self.path, self.base_commit, self.env)

    async def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        await git(["worktree", "remove", "--force", str(self.path)], self.repo_root, self.env)
        await asyncio.to_thread(shutil.rmtree, self.path.parent, True)
        leftovers.forget(self.path.parent)
        await git(["worktree", "prune"], self.repo_root, self.env)
        await git(["branch", "-D", self.branch], self.repo_root, self.env)

    async def __aenter__(self) -> AgentWorkspace:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cleanup()
