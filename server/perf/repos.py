"""The repository key routing learns under: which project a task worked in, without secrets.

`repo_key(workspace)` names the git repository containing `workspace`:

- its `origin` remote (else its first remote by name), normalised to `host/path`: scheme,
  user name, password or token, port, query and a trailing `.git` are dropped, so
  `https://x-access-token:ghp_…@github.com/acme/api.git` and `git@github.com:acme/api` are both
  `github.com/acme/api`. A local remote (a path or `file://`) becomes `path:<that path>`.
- with no remote, `path:<main work tree>`: the resolved root of the repository's main work
  tree, so the linked worktrees of one repository share one key.

Why the remote and not the alternatives: a remote is the same for every clone on every machine,
so a team sharing one PostgreSQL database learns per project together, and a fresh clone keeps
what was learned; a path differs per clone and per user. The first commit's hash would serve too,
but finding it walks the whole history (seconds on a large repository) and forks share it.
Nothing here runs git: the repository's own config file is read through gitpython's reader
(`config_reader("repository")`, so no user or system config — where credential helpers live — is
ever read). Keys are cached per resolved workspace for the life of the process.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["normalise_remote", "repo_key"]

log = logging.getLogger(__name__)

# scp-like remotes: [user@]host:path (no scheme, and the part before ':' is not a drive letter).
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]{2,}):(?P<path>.+)$")


def normalise_remote(url: str) -> str | None:
    """`host/path` for a network remote, `path:<path>` for a local one; None when unusable.

    Credentials, port, query and fragment never survive: the key must be safe to store and show.
    """
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return _local(parts.path)
        host = (parts.hostname or "").lower()
        path = parts.path
    else:
        match = _SCP.match(url)
        if match is None:
            return _local(url)
        host, path = match["host"].lower(), match["path"]
    path = path.strip("/")
    path = path.removesuffix(".git").rstrip("/")
    if not host or not path:
        return None
    return f"{host}/{path}"


def _local(path: str) -> str | None:
    if not path:
        return None
    text = path.rstrip("/").removesuffix(".git").rstrip("/") or "/"
    return f"path:{text}"


@functools.lru_cache(maxsize=512)
def _key_of(resolved: Path) -> str | None:
    from server.validation.gitfacts import open_repo  # gitpython, loaded on first use

    repo = open_repo(resolved)
    if repo is None:
        return None
    try:
        config = repo.config_reader("repository")
        remotes = sorted(
            (section[len('remote "') : -1] for section in config.sections() if section.startswith('remote "')),
            key=lambda name: (name != "origin", name),
        )
        for name in remotes:
            url = config.get_value(f'remote "{name}"', "url", "")
            key = normalise_remote(str(url))
            if key is not None and key.startswith("path:") and not Path(key[5:]).is_absolute():
                key = f"path:{(Path(str(repo.working_tree_dir)) / key[5:]).resolve()}"
            if key is not None:
                return key
        common = Path(repo.common_dir).resolve()
        main = common.parent if common.name == ".git" else Path(str(repo.working_tree_dir)).resolve()
        return f"path:{main}"
    except Exception as exc:  # an unreadable config: no per-repository learning, never a failed task
        log.info("no repository key for %s: %s", resolved, type(exc).__name__)
        return None
    finally:
        repo.close()


def repo_key(workspace: str | Path | None) -> str | None:
    """The key of the repository containing `workspace` (see the module docstring), or None
    when there is no workspace or it is not inside a git repository."""
    if workspace is None or str(workspace) == "":
        return None
    try:
        resolved = Path(workspace).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    return _key_of(resolved)
