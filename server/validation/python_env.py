"""Which Python a project's checks run with.

The interpreter is the project's own virtualenv (`.venv`, `venv`) in its folder or one above it up
to the repository's root (a member of a uv or Poetry workspace runs with the workspace's `.venv`),
else the environment its Poetry, Pipenv, Hatch or conda keeps elsewhere (`installed.outside_env`),
else one of its tox environments (`.tox/<env>`, read in the checkout: a worktree has none), else
the server's own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from server.validation.checks_base import RunContext, python_has_module, upwards
from server.validation.detect import Project

__all__ = ["project_python", "tox_python"]

_VENVS = (".venv", "venv")


def project_python(project: Project, ctx: RunContext) -> str:
    """The interpreter the project's checks run with (see the module's docstring)."""
    for directory in upwards(project.root, ctx.top):
        for venv in _VENVS:
            candidate = directory / venv / "bin" / "python"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    if ctx.python_env is not None and os.access(ctx.python_env / "bin" / "python", os.X_OK):
        return str(ctx.python_env / "bin" / "python")
    return tox_python(project, ctx) or sys.executable


def tox_python(project: Project, ctx: RunContext) -> str | None:
    """The interpreter of the best tox environment of the project (`.tox/` in its folder or one above
    up to the repository's root, in the tree or else in its checkout): one with pytest first, then one
    named for the server's Python (`py312`, `py3.12`), then `py` / `py3`, then the newest."""
    for directory in upwards(project.root, ctx.top):
        for where in (directory, ctx.in_checkout(directory)):
            if where is None or not (where / ".tox").is_dir():
                continue
            found = _best_tox_env(where / ".tox")
            if found is not None:
                return found
    return None


def _best_tox_env(tox: Path) -> str | None:
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    named = {f"py{version}", f"py{sys.version_info.major}.{sys.version_info.minor}"}
    ranked: list[tuple[bool, bool, bool, float, str]] = []
    try:
        entries = list(os.scandir(tox))
    except OSError:
        return None
    for entry in entries:
        python = Path(entry.path) / "bin" / "python"
        # `.pkg` and other dot-folders are tox's own packaging environments
        if entry.name.startswith(".") or not entry.is_dir() or not os.access(python, os.X_OK):
            continue
        try:
            mtime = entry.stat().st_mtime
        except OSError:
            continue
        ranked.append((python_has_module(str(python), "pytest") is not None, entry.name in named,
                       entry.name in ("py", "py3"), mtime, str(python)))
    return max(ranked)[-1] if ranked else None
