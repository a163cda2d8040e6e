"""Real temporary git repositories and projects for the validation tests (gitpython, no shell)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import git

__all__ = ["ACTOR", "PY_PROJECT", "base_env", "commit_all", "make_repo", "make_venv", "wait_gone", "write_files"]

ACTOR = git.Actor("Test", "test@example.invalid")

# A small Python project: one passing and one failing test, a syntax error, a ruff finding.
PY_PROJECT: dict[str, str] = {
    "pyproject.toml": '[project]\nname = "demo"\nversion = "0.1.0"\n',
    "demo/__init__.py": "",
    "demo/calc.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
    "demo/broken.py": "def oops(:\n    return 1\n",
    "tests/test_calc.py": (
        "from demo.calc import add\n\n\ndef test_add_ok():\n    assert add(1, 2) == 3\n\n\n"
        "def test_add_wrong():\n    assert add(2, 2) == 5\n"
    ),
}


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_repo(root: Path, files: Mapping[str, str] | None = None, *, commit: bool = True) -> Path:
    """A new repository on branch `main` holding `files` (committed unless told otherwise)."""
    root.mkdir(parents=True, exist_ok=True)
    git.Repo.init(root, initial_branch="main").close()
    if files:
        write_files(root, files)
        if commit:
            commit_all(root, "initial")
    return root


def commit_all(root: Path, message: str) -> str:
    """Stage everything and commit; the repository handle is closed again (no stray git processes)."""
    with git.Repo(root) as repo:
        repo.git.add(A=True)
        return repo.index.commit(message, author=ACTOR, committer=ACTOR).hexsha


def make_venv(where: Path, files: Mapping[str, str] | None = None, *, pytest: bool = True) -> Path:
    """A real virtualenv at `where` (made without pip, so in a moment) holding `files` in its
    site-packages, and pytest as the server has it when `pytest`; its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    (site,) = where.glob("lib/python*/site-packages")
    write_files(site, files or {})
    if pytest:
        server_site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "pytest").is_dir()))
        (site / "_server_tools.pth").write_text(f"{server_site}\n", encoding="utf-8")
        (site / "pytest").symlink_to(server_site / "pytest")
    return site


def base_env(**extra: str) -> dict[str, str]:
    """The server's environment as the engine sees it: this interpreter's venv first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


async def wait_gone(pid: int, within_s: float) -> bool:
    """True once process `pid` has exited (a pidfd turns readable), False after `within_s` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_reader(fd, exited.set)
    try:
        await asyncio.wait_for(exited.wait(), within_s)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)
