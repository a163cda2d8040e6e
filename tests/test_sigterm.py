"""SIGTERM in the middle of a check: the server stops in order, and the check's temporary worktree,
its scratch folder and the worktree's registration in the user's repository go with it.

The server runs as MCP clients run it (`python -m server serve`, on stdio or streamable HTTP),
its temporary folder in tmp_path; a validated task's patch is checked by a test that sleeps, and
the server gets SIGTERM while that test runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from server.validation.worktree import run_git
from tests.conftest import REPO
from tests.e2e.helpers import call
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.test_server_http import _free_port
from tests.validation.helpers import base_env, make_repo, wait_gone

PATCH = "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```"


async def _until(exists: Path, within_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await asyncio.to_thread(exists.exists):
        assert loop.time() < deadline, f"{exists} did not appear"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _server(transport: str, env: dict[str, str]) -> AsyncIterator[Client]:
    if transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env, cwd=str(REPO))
        async with Client(params, read_timeout_seconds=30) as client:
            yield client
        return
    port = _free_port()
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "server", "serve", "--http", "--port", str(port),
                                                   env=env, cwd=str(REPO), stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await _listening(port):
            assert loop.time() < deadline and process.returncode is None, "the HTTP server did not start"
            await asyncio.sleep(0.05)
        async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=30) as client:
            yield client
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_sigterm_during_a_check_leaves_no_worktree_behind(tmp_path: Path, transport: str) -> None:
    started = tmp_path / "test-started"
    repo = make_repo(tmp_path / "calc", {
        "calc.py": "def add(a, b):\n    return a - b\n",
        "test_calc.py": (f"import pathlib, time\nfrom calc import add\n\n\ndef test_add():\n"
                         f"    pathlib.Path({str(started)!r}).touch()\n    time.sleep(60)\n    assert add(1, 2) == 3\n"),
    })
    temp = tmp_path / "tmp"
    temp.mkdir()
    stopped = False
    with LoopbackProvider() as lp:
        lp.set_default(Reply(PATCH), model="fast-a")
        env = loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path), PWM_LOG_LEVEL="WARNING", TMPDIR=str(temp))
        with contextlib.suppress(Exception, BaseExceptionGroup):  # the client sees its server go away
            async with _server(transport, env) as client:
                await call(client, "submit_parallel_tasks", {"tasks": [{
                    "agent_type": "tcoder_speed", "task_description": "Fix add() in calc.py so the tests pass",
                    "workspace": str(repo), "validate": {"checks": ["test"], "max_rounds": 1}}]})
                await _until(started, 30)
                (owner,) = {(p / ".pwm-owner").read_text().split()[0] for p in temp.glob("pwm-worktree-*")}
                os.kill(int(owner), signal.SIGTERM)
                stopped = await wait_gone(int(owner), 30)
    assert stopped
    assert sorted(p.name for p in temp.glob("pwm-*")) == []  # no pwm-worktree-*, no pwm-validate-*
    listed = (await run_git(["worktree", "list"], repo, base_env())).stdout
    assert len(listed.splitlines()) == 1 and listed.startswith(str(repo))  # only the checkout itself
