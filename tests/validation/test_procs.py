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


# A check that daemonizes: it forks, the child calls setsid() and forks again, and the
# grandchild (now in its own session and process group, re-parented away from the check)
# sleeps with its output detached, as a classic Unix daemon does.
DAEMONIZE = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        null = os.open(os.devnull, os.O_RDWR)\n"
    "        for fd in (0, 1, 2):\n"
    "            os.dup2(null, fd)\n"
    "        open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n"
    "        os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
    "        time.sleep(120)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.01)\n"
    "print('daemon started', flush=True)\n"
)


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return None


async def test_a_daemon_started_in_a_new_session_does_not_survive_the_time_out(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    pid_file = tmp_path / "daemon.pid"
    script = DAEMONIZE + "time.sleep(120)\n"
    proc = await run_process(
        [sys.executable, "-c", script, str(pid_file)], cwd=tmp_path, env=child_env(os.environ),
        deadline=loop.time() + 3,
    )
    assert proc.timed_out and "daemon started" in proc.stdout
    daemon = int(pid_file.read_text())
    # The daemon really had left the check's session, so a process-group kill could not reach it.
    assert proc.exit_code is None
    assert await wait_gone(daemon, within_s=10), f"daemon {daemon} (session {_session_of(daemon)}) survived"


async def test_a_daemon_left_behind_by_a_check_that_exits_is_killed_too(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    pid_file = tmp_path / "daemon.pid"
    proc = await run_process(
        [sys.executable, "-c", DAEMONIZE, str(pid_file)], cwd=tmp_path, env=child_env(os.environ),
        deadline=loop.time() + 30,
    )
    assert proc.exit_code == 0 and not proc.timed_out and "daemon started" in proc.stdout
    assert await wait_gone(int(pid_file.read_text()), within_s=10)


async def test_a_command_keeps_its_exit_code_and_a_missing_one_cannot_start(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    proc = await run_process(
        [sys.executable, "-c", "import sys; sys.exit(3)"], cwd=tmp_path, env=child_env(os.environ),
        deadline=loop.time() + 30,
    )
    assert proc.exit_code == 3
    killed = await run_process(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"], cwd=tmp_path,
        env=child_env(os.environ), deadline=loop.time() + 30,
    )
    assert killed.exit_code == -6
    for missing in ("no-such-tool-pwm", str(tmp_path / "nope")):
        try:
            await run_process([missing], cwd=tmp_path, env=child_env(os.environ), deadline=loop.time() + 30)
        except FileNotFoundError:
            continue
        raise AssertionError(f"{missing} started")


REPO_ROOT = str(Path(__file__).resolve().parents[2])


async def test_when_the_server_is_killed_its_running_checks_daemons_are_killed_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    check = DAEMONIZE + "time.sleep(120)\n"
    # A stand-in server: runs the check through run_process, prints the daemon's pid once it is
    # up, and is SIGKILLed mid-check.
    server = (
        "import asyncio, os, sys\n"
        "from pathlib import Path\n"
        "from server.validation.procs import child_env, run_process\n"
        "async def main():\n"
        "    loop = asyncio.get_running_loop()\n"
        f"    check = asyncio.ensure_future(run_process([sys.executable, '-c', {check!r}, {str(pid_file)!r}],\n"
        f"        cwd=Path({str(tmp_path)!r}), env=child_env(os.environ), deadline=loop.time() + 120))\n"
        f"    while not os.path.exists({str(pid_file)!r}):\n"
        "        await asyncio.sleep(0.02)\n"
        f"    print(open({str(pid_file)!r}).read(), flush=True)\n"
        "    await check\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", server, env={**os.environ, "PYTHONPATH": REPO_ROOT},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            daemon = int(await proc.stdout.readline())
    finally:
        proc.kill()
        await proc.wait()
    assert await wait_gone(daemon, within_s=10)
