"""Check what a caller asks for: a workspace that is a git repository, and `files` entries.

A `files` entry is a path relative to the workspace (or the repository root), optionally with
a line range: `src/app/auth.py`, `src/app/auth.py:40-120`, `src/app/auth.py:40`. Every
problem is an `InputError` or `WorkspaceError` naming the field and the fix.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from server.context.files import git, is_excluded
from server.context.index import Snapshot
from server.context.secrets import is_secret_path
from server.context.types import FileRequest
from server.errors import InputError, not_a_repository

__all__ = ["check_requests", "parse_file_spec", "repository_root"]

_RANGE = re.compile(r"^(?P<path>.+?):(?P<start>\d+)(?:-(?P<end>\d+))?$")


def repository_root(workspace: Path, field: str = "workspace") -> Path:
    """The top of the git repository `workspace` lies in.

    Raises:
        WorkspaceError: `workspace` is not inside a git repository (or git is missing).
    """
    try:
        top = git(workspace, "rev-parse", "--show-toplevel").decode().strip()
    except subprocess.CalledProcessError as exc:
        raise not_a_repository(field, workspace, (exc.stderr or b"").decode(errors="replace")) from None
    except (FileNotFoundError, NotADirectoryError):
        raise not_a_repository(field, workspace, "") from None
    return Path(top).resolve()


def parse_file_spec(spec: str, field: str) -> FileRequest:
    """`path[:start[-end]]` as a request (the path not yet checked).

    Raises:
        InputError: empty path, or a range whose start is 0 or after its end.
    """
    text = spec.strip()
    if not text:
        raise InputError(field, "is empty", "a path relative to the workspace, optionally with :start-end")
    match = _RANGE.match(text)
    if match is None:
        return FileRequest(text)
    start = int(match["start"])
    end = int(match["end"]) if match["end"] else start
    if start < 1 or end < start:
        raise InputError(field, f"line range {start}-{end} is not valid",
                         "1-based inclusive lines with start <= end, e.g. path.py:40-120")
    return FileRequest(match["path"], start, end)


def check_requests(specs: Sequence[str], workspace: Path, root: Path, snapshot: Snapshot,
                   exclude: Sequence[str] = (), field: str = "files") -> list[FileRequest]:
    """The caller's `files` as requests with paths relative to `root`, each checked.

    Raises:
        InputError: an entry escapes the repository, does not exist (in the snapshot's commit),
            is a secret, ignored, binary or too large a file, or its range passes the end of file.
    """
    by_path = {d.path: d for d in snapshot.docs.values()}
    where = f"commit {snapshot.commit[:12]}" if snapshot.commit else "the working tree"
    out: list[FileRequest] = []
    for i, spec in enumerate(specs):
        name = f"{field}[{i}]"
        req = parse_file_spec(spec, name)
        rel = _relative(req.path, workspace, root, name)
        if is_secret_path(rel, exclude):
            raise InputError(name, f"{rel!r} looks like a secret (or matches an exclude pattern) and is never "
                             "sent to a model", "remove it from files; paste only what is safe into the description")
        doc = by_path.get(rel)
        if doc is None:
            exists = (root / rel).is_file() if snapshot.commit is None else _in_commit(root, snapshot.commit, rel)
            if not exists:
                raise InputError(name, f"{rel!r} does not exist in {where}",
                                 "a file path relative to the workspace, as `git ls-files` shows it")
            why = "vendored or generated" if is_excluded(rel, tuple(exclude)) else "ignored by .gitignore, binary or too large"
            raise InputError(name, f"{rel!r} cannot be sent: it is {why}", "a tracked text source file")
        if req.end_line is not None and req.end_line > doc.n_lines:
            raise InputError(name, f"line range {req.start_line}-{req.end_line} passes the end of {rel!r} "
                             f"({doc.n_lines} lines)", f"a range within 1-{doc.n_lines}, or the path alone")
        out.append(FileRequest(rel, req.start_line, req.end_line))
    return out


def _relative(path: str, workspace: Path, root: Path, field: str) -> str:
    if "\x00" in path:
        raise InputError(field, "contains a NUL byte", "a file path relative to the workspace")
    candidate = Path(path).expanduser()
    bases = [candidate] if candidate.is_absolute() else [workspace / candidate, root / candidate]
    for full in bases:
        resolved = full.resolve()
        if resolved != root and root not in resolved.parents:
            raise InputError(field, f"{path!r} resolves outside the repository {str(root)!r}",
                             "a path inside the workspace's repository")
        if resolved.exists() or full is bases[-1]:
            return resolved.relative_to(root).as_posix()
    return bases[-1].resolve().relative_to(root).as_posix()


def _in_commit(root: Path, commit: str, rel: str) -> bool:
    try:
        git(root, "cat-file", "-e", f"{commit}:{rel}")
        return True
    except subprocess.CalledProcessError:
        return False
