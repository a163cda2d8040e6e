"""The built wheel, installed into a fresh virtual environment outside the checkout, serves MCP
over stdio when launched the way Claude Desktop launches it (console script, another cwd).

The fresh environment gets its dependencies from this test environment's site-packages through a
`.pth` line (which adds that directory only: the checkout's editable-install hook there is not
run), so the test takes seconds; `.ci/clients.sh` also installs the wheel with its dependencies
from the package index, as `pipx install .` does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import REPO, isolated_env

pytestmark = pytest.mark.slow

_NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    "node_modules", "tests", "bench",
)


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def _install_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the source and install it into a fresh venv; its bin dir."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, source,
         cwd=tmp_path)
    (wheel,) = wheels.glob("parallel_work_manager-*.whl")
    venv = tmp_path / "fresh-venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel,
         cwd=tmp_path)
    shutil.rmtree(source)  # nothing of the checkout is left to lean on
    return venv / "bin"


async def test_the_installed_wheel_serves_tools_and_its_manifests_from_another_directory(tmp_path: Path) -> None:
    bin_dir = _install_wheel(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = json.loads(_run(bin_dir / "python", "-c",
                            "import json, server, manifests; print(json.dumps([server.__file__, manifests.__file__]))",
                            cwd=elsewhere))
    assert all(Path(p).is_relative_to(bin_dir.parent) for p in where), where

    config = json.loads((REPO / "claude_desktop_config.example.json").read_text())["mcpServers"]
    example = config["parallel-work-manager"]
    command = bin_dir / example["command"]
    assert command.is_file()
    params = StdioServerParameters(command=str(command), args=example["args"], cwd=str(elsewhere),
                                   env={**example["env"], **isolated_env(tmp_path, PATH="/usr/bin:/bin")})
    async with Client(params, read_timeout_seconds=60) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"route_task", "submit_parallel_tasks", "get_parallel_group_status", "validate_workspace"} <= names
        catalogue = json.loads((await client.read_resource("pwm://models")).contents[0].text)  # type: ignore[union-attr]
        assert len(catalogue["models"]) > 20  # the shipped manifests, read from the installed package
