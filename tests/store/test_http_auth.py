"""Bearer tokens on the HTTP transport: once one exists, every request needs one (401 without)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO, isolated_env

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(env: dict[str, str], *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--http", "--port", str(port), *extra],
                               env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "server exited")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("HTTP server did not start within 30 s")
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def _tokens_create(env: dict[str, str], user: str, *extra: str) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-m", "server", "tokens", "create", "--user", user, "--json", *extra],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, str] = json.loads(proc.stdout)
    return out


def test_once_a_token_exists_every_http_request_needs_it(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    issued = _tokens_create(env, "ana")
    assert issued["user"] == "ana" and issued["token"].startswith("pwm_")
    with _server(env) as (url, _):
        bare = httpx.post(f"{url}/mcp", json=INIT, headers=HEADERS, timeout=30)
        wrong = httpx.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": "Bearer pwm_nope"},
                           timeout=30)
        good = httpx.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {issued['token']}"},
                          timeout=30)
        metadata = httpx.get(f"{url}/.well-known/oauth-protected-resource/mcp", timeout=30)
        dashboard = httpx.get(f"{url}/dashboard/data", timeout=30)
        dashboard_ok = httpx.get(f"{url}/dashboard/data", timeout=30,
                                 headers={"Authorization": f"Bearer {issued['token']}"})
    assert (bare.status_code, wrong.status_code, good.status_code) == (401, 401, 200)
    assert "resource_metadata=" in bare.headers.get("www-authenticate", "")
    assert metadata.status_code == 200 and metadata.json()["resource"].endswith("/mcp")
    assert dashboard.status_code == 401 and dashboard_ok.status_code != 401  # the dashboard needs one too


def test_with_no_token_the_http_server_binds_loopback_only_and_says_why(tmp_path: Path) -> None:
    with _server(isolated_env(tmp_path), "--host", "0.0.0.0") as (url, process):
        answer = httpx.post(f"{url}/mcp", json=INIT, headers=HEADERS, timeout=30)
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert answer.status_code == 200
    assert "loopback only" in err.decode() and "tokens create" in err.decode()


async def _tool(url: str, token: str, tool: str, arguments: Mapping[str, object]) -> tuple[bool, str, object]:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http), read_timeout_seconds=30) as client:
        result = await client.call_tool(tool, dict(arguments))
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return result.is_error, text, result.structured_content


async def test_a_second_users_token_can_neither_read_nor_cancel_the_first_users_group(tmp_path: Path) -> None:
    import asyncio

    from tests.scheduler.overlay import loop_env
    from tests.support.loopback_provider import Hang, LoopbackProvider

    with LoopbackProvider() as lp:
        lp.set_default(Hang(30))
        env = loop_env(tmp_path, lp.openai_url, PWM_LOG_LEVEL="WARNING")
        ana = (await asyncio.to_thread(_tokens_create, env, "ana"))["token"]
        bo = (await asyncio.to_thread(_tokens_create, env, "bo"))["token"]
        admin = (await asyncio.to_thread(_tokens_create, env, "root", "--admin"))["token"]
        with _server(env) as (url, _):
            tasks = {"tasks": [{"agent_type": "tcoder_speed", "task_description": "Write a function"}],
                     "group_name": "ana-work"}
            error, text, submitted = await _tool(url, ana, "submit_parallel_tasks", tasks)
            assert not error, text
            assert isinstance(submitted, dict)
            group_id = submitted["group_id"]
            mine = await _tool(url, ana, "get_parallel_group_status", {"group_id": group_id})
            theirs = await _tool(url, bo, "get_parallel_group_status", {"group_id": group_id})
            unknown = await _tool(url, bo, "get_parallel_group_status", {"group_id": "000000000000"})
            cancel = await _tool(url, bo, "cancel_parallel_group", {"group_id": group_id})
            cancel_unknown = await _tool(url, bo, "cancel_parallel_group", {"group_id": "000000000000"})
            by_name = await _tool(url, bo, "get_parallel_group_status", {"group_name": "ana-work"})
            seen_by_admin = await _tool(url, admin, "get_parallel_group_status", {"group_id": group_id})
            after = await _tool(url, ana, "get_parallel_group_status", {"group_id": group_id})
            task_id = submitted["tasks"][0]["task_id"]
            result_theirs = await _tool(url, bo, "get_task_result", {"task_id": task_id})
            result_unknown = await _tool(url, bo, "get_task_result", {"task_id": "000000000000"})
            result_mine = await _tool(url, ana, "get_task_result", {"task_id": task_id})
    assert not mine[0] and not seen_by_admin[0]
    assert isinstance(after[2], dict) and after[2]["status"] == "running"  # bo's cancel did nothing
    assert theirs[0] and unknown[0] and by_name[0] and cancel[0] and cancel_unknown[0]
    # Exactly like an unknown group: the same answer with only the id differing.
    assert theirs[1].replace(group_id, "X") == unknown[1].replace("000000000000", "X")
    assert cancel[1].replace(group_id, "X") == cancel_unknown[1].replace("000000000000", "X")
    # Another user's task, too: its result answers exactly like an unknown task's.
    assert not result_mine[0] and result_theirs[0] and result_unknown[0]
    assert result_theirs[1].replace(task_id, "X") == result_unknown[1].replace("000000000000", "X")
