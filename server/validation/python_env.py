"""Which Python a project's checks run with, and which copy of the code its tests import.

The interpreter is the project's own virtualenv (`.venv`, `venv`) in its folder or one above it up
to the repository's root (a member of a uv or Poetry workspace runs with the workspace's `.venv`),
else the environment its Poetry, Pipenv, Hatch or conda keeps elsewhere (`installed.outside_env`),
else one of its tox environments (`.tox/<env>`, read in the checkout: a worktree has none), else
the server's own.

An editable install (`pip install -e .`, a uv workspace's members, Hatch, PDM, setuptools' import
finder) points at the checkout it was made in, so in a worktree the tests would import the
checkout's code, not the patched copy: each such folder inside the checkout goes, as the same
folder of the worktree, first on PYTHONPATH (a project's own `src` before them).
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

from server.validation.checks_base import RunContext, python_has_module, upwards
from server.validation.detect import Project

__all__ = ["editable_folders", "project_python", "tox_python", "worktree_first"]

_VENVS = (".venv", "venv")
# setuptools' editable finder: `MAPPING: dict[str, str] = {'pkg': '/checkout/src/pkg'}`
_MAPPING = re.compile(r"^MAPPING\s*(?::[^=\n]*)?=\s*(\{.*\})\s*$", re.MULTILINE)
# folders of installed things, never the project's code
_INSTALLED_PARTS = frozenset({".venv", "venv", ".tox", "node_modules", "site-packages", "dist-packages"})


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


def editable_folders(python: str) -> list[Path]:
    """The folders `python`'s environment imports editable installs from: the path lines of its
    `.pth` files, and the parent of each package folder setuptools' editable finders map."""
    if python == sys.executable:
        return []  # the server's own environment holds no project's install
    found: list[Path] = []
    for site in sorted(Path(python).parent.parent.glob("lib/python*/site-packages")):
        for pth in sorted(site.glob("*.pth")):
            for line in _lines(pth):
                if line and not line.startswith(("#", "import ", "import\t")):
                    found.append(Path(line) if Path(line).is_absolute() else site / line)
        for finder in sorted(site.glob("__editable___*_finder.py")):
            match = _MAPPING.search("\n".join(_lines(finder)))
            try:
                mapping = ast.literal_eval(match[1]) if match else {}
            except (ValueError, SyntaxError):
                continue
            if isinstance(mapping, dict):
                # a package folder named as its package is imported from its parent
                found += [Path(str(path)).parent for name, path in mapping.items()
                          if Path(str(path)).name == str(name).rpartition(".")[2]]
    return list(dict.fromkeys(found))


def _lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return []


def worktree_first(python: str, project: Project, ctx: RunContext, env: dict[str, str]) -> dict[str, str]:
    """`env` with the project's `src` (when it has one) and the tree's copy of each editable
    install's folder inside the checkout first on PYTHONPATH (`python -m` already puts the
    project's root first)."""
    first: list[Path] = []
    if (project.root / "src").is_dir():
        first.append(project.root / "src")
    for folder in editable_folders(python):
        mapped = ctx.in_tree(Path(os.path.normpath(folder)))
        if mapped is None or _INSTALLED_PARTS & set(mapped.relative_to(ctx.top).parts) or not mapped.is_dir():
            continue
        first.append(mapped)
    if not first:
        return env
    entries = [*dict.fromkeys(str(p) for p in first), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in entries if p)}
