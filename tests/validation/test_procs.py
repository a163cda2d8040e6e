"""The process runner: allowlisted environment, capped output, whole-group kill at the deadline."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from server.validation.procs import child_env, run_process
from tests.validation.helpers import wait_gone


def test_child_env_keeps_the_allowlist_and_drops_secrets() -> None:
    env = child_env(
        {
            "PATH": "/usr/bin",
            "HOME": "/home/x",
            "LC_ALL": "C.UTF-8",
            "OPENAI_API_KEY": "sk-secret",
            "GITHUB_TOKEN": "ghp_x",
            "HTTPS_PROXY": "https://user:pw@proxy",
            "PYTHONPATH": "/srv/server",
        }
    )
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/x" and env["LC_ALL"] == "C.UTF-8"
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "HTTPS_PROXY", "PYTHONPATH"):
        assert name not in env
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


async def test_secret_in_server_env_is_invisible_to_the_child(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    env = child_env({**os.environ, "OPENAI_API_KEY": "sk-secret"})
    script = "import os; print(repr(os.environ.get('OPENAI_API_KEY')))"
    proc = await run_process([sys.executable, "-c", script], cwd=tmp_path, env=env, deadline=loop.time() + 30)
    assert proc.exit_code == 0
    assert proc.stdout.strip() == "None"
    assert "sk-secret" not in proc.stdout + proc.stderr


async def test_output_beyond_the_cap_keeps_the_tail_and_is_marked(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    script = "import sys; sys.stdout.write('a' * 100000 + 'END')"
    proc = await run_process(
        [sys.executable, "-c", script], cwd=tmp_path, env=child_env(os.environ), deadline=loop.time() + 30,
        stdout_cap=1000,
    )
    assert proc.stdout_truncated and len(proc.stdout) == 1000 and proc.stdout.endswith("END")


async def test_overdue_command_is_killed_with_its_grandchildren(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        f"g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = await run_process(
        [sys.executable, "-c", script], cwd=tmp_path, env=child_env(os.environ), deadline=loop.time() + 1.5
    )
    assert proc.timed_out and proc.exit_code is None
    assert "started" in proc.stdout  # what it printed before the limit is kept
    assert await wait_gone(int(pid_file.read_text()), within_s=10)


async def test_background_leftovers_are_swept_after_a_normal_exit(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    pid_file = tmp_path / "daemon.pid"
    script = (
        "import subprocess, sys\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
    )
    proc = await run_process([sys.executable, "-c", script], cwd=tmp_path, env=child_env(os.environ),
                             deadline=loop.time() + 30)
    assert proc.exit_code == 0 and not proc.timed_out
    assert await wait_gone(int(pid_file.read_text()), within_s=10)
