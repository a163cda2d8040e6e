"""Git facts about a workspace, read through gitpython: branch, changed and untracked files,
diff stat against HEAD. A workspace that is not inside a repository simply has no git facts.

Only read-only git commands run here; `core.fsmonitor` is switched off and external diff /
textconv drivers are refused, because a repository's own config could otherwise make git run
arbitrary programs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from server.validation.model import DiffStat, GitFacts

if TYPE_CHECKING:
    import git

__all__ = ["GitSnapshot", "open_repo", "read_git_facts", "read_git_snapshot"]

log = logging.getLogger(__name__)

DEFAULT_MAX_LISTED = 200


@dataclass
class GitSnapshot:
    """Everything the engine needs: the bounded facts for the report, and the full file sets."""

    facts: GitFacts
    repo_root: Path
    head: str | None
    changed: list[Path] = field(default_factory=list)  # absolute; may include deleted files
    untracked: list[Path] = field(default_factory=list)  # absolute


def open_repo(path: Path) -> git.Repo | None:
    """The repository containing `path`, or None when there is none."""
    import git  # GitPython costs ~30 ms at import: loaded on first use, not at server start

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        return None
    repo.git.set_persistent_git_options(c="core.fsmonitor=false")
    return repo


def _split_z(text: str) -> list[str]:
    return [p for p in text.split("\0") if p]


def _rel_inside(path: Path, workspace: Path) -> str | None:
    if path == workspace or workspace in path.parents:
        return path.relative_to(workspace).as_posix()
    return None


def read_git_snapshot(workspace: Path, *, max_listed: int = DEFAULT_MAX_LISTED) -> GitSnapshot | None:
    """Blocking: read the git state of `workspace` (None when it is not in a repository)."""
    import git

    repo = open_repo(workspace)
    if repo is None:
        return None
    try:
        root = Path(str(repo.working_tree_dir)).resolve()
        try:
            head: str | None = repo.head.commit.hexsha
        except ValueError:  # no commits yet
            head = None
        detached = repo.head.is_detached
        branch = None if detached else repo.head.reference.name
        if head is not None:
            names = _split_z(repo.git.diff("HEAD", "--name-only", "-z", "--no-renames", "--no-ext-diff"))
            numstat = repo.git.diff("HEAD", "--numstat", "--no-renames", "--no-ext-diff", "--no-textconv")
        else:
            names = _split_z(repo.git.ls_files("-z"))
            numstat = ""
        untracked_names = repo.untracked_files
    except git.GitCommandError as exc:
        log.warning("git facts unavailable for %s: %s", workspace, exc)
        return None
    finally:
        repo.close()

    insertions = deletions = files = 0
    for line in numstat.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3 or _rel_inside((root / parts[2]).resolve(), workspace) is None:
            continue
        files += 1
        insertions += int(parts[0]) if parts[0].isdigit() else 0
        deletions += int(parts[1]) if parts[1].isdigit() else 0

    changed = [root / n for n in names]
    untracked = [root / n for n in untracked_names]
    changed_rel = [r for p in changed if (r := _rel_inside(p, workspace)) is not None]
    untracked_rel = [r for p in untracked if (r := _rel_inside(p, workspace)) is not None]
    dropped = max(0, len(changed_rel) - max_listed) + max(0, len(untracked_rel) - max_listed)
    facts = GitFacts(
        repo_root=str(root),
        branch=branch,
        detached=detached,
        head=head,
        changed=tuple(changed_rel[:max_listed]),
        untracked=tuple(untracked_rel[:max_listed]),
        diff_stat=DiffStat(files=files, insertions=insertions, deletions=deletions),
        files_dropped=dropped,
    )
    return GitSnapshot(facts=facts, repo_root=root, head=head, changed=changed, untracked=untracked)


async def read_git_facts(workspace: Path) -> GitFacts | None:
    """The bounded git facts of `workspace`, or None when it is not in a repository."""
    snapshot = await asyncio.to_thread(read_git_snapshot, workspace)
    return snapshot.facts if snapshot else None
