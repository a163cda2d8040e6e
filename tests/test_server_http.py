"""The server over streamable HTTP: tools listed, foreign Origin and Host refused (DNS rebinding)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from mcp import Client

from tests.conftest import isolated_env

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _http_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--http", "--port", str(port)],
        env=isolated_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
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
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.stderr:
            process.stderr.close()


async def test_http_server_lists_tools_and_refuses_foreign_origin_and_host(tmp_path: Path) -> None:
    with _http_server(tmp_path) as base:
        async with Client(f"{base}/mcp", read_timeout_seconds=30) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "route_task" in names
            result = await client.call_tool("route_task", {"task_description": "Add a docstring to parse()"})
            assert not result.is_error

        async with httpx.AsyncClient(timeout=10) as http:
            foreign = await http.post(
                f"{base}/mcp", json=INIT, headers={**HEADERS, "Origin": "http://evil.example"}
            )
            assert foreign.status_code == 403
            rebound = await http.post(f"{base}/mcp", json=INIT, headers={**HEADERS, "Host": "evil.example"})
            assert rebound.status_code == 421
            local = await http.post(
                f"{base}/mcp", json=INIT, headers={**HEADERS, "Origin": "http://localhost:3000"}
            )
            assert local.status_code == 200
