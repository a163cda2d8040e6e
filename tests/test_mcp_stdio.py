"""The stdio transport read and written on the event loop (`server.mcp_stdio`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from server.mcp_stdio import _Lines
from tests.conftest import REPO

_ECHO_SERVER = """
import os, anyio
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCResponse
from server.mcp_stdio import stdio_streams

async def main():
    async with stdio_streams() as (read, write):
        print("stray print", flush=True)
        os.write(1, b"stray write\\n")
        async with read, write:
            async for message in read:
                request = message.message
                answer = {"size": len(request.params["blob"]), "echo": request.params["blob"][-3:]}
                await write.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=request.id, result=answer)))
    print("after", flush=True)

anyio.run(main)
"""


async def test_lines_split_across_reads_arrive_whole_and_a_last_line_without_newline_is_kept() -> None:
    big = "é" * 150_000  # 300 KB, many reads; a two-byte character falls across a chunk's end
    data = f"{big}\n{{}}\nlast".encode()
    reader = asyncio.StreamReader()
    for start in range(0, len(data), 65_537):
        reader.feed_data(data[start:start + 65_537])
    reader.feed_eof()
    lines = [line async for line in _Lines(reader)]
    assert lines == [big + "\n", "{}\n", "last"]


def test_over_pipes_a_request_larger_than_the_pipe_arrives_whole_and_stray_output_goes_to_stderr() -> None:
    blob = "x" * 300_000 + "end"
    request = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"blob": blob}})
    done = subprocess.run([sys.executable, "-c", _ECHO_SERVER], input=(request + "\n").encode(), cwd=REPO,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stdout.decode().splitlines()
    assert json.loads(lines[0]) == {"jsonrpc": "2.0", "id": 7, "result": {"size": len(blob), "echo": "end"}}
    assert lines[1:] == ["after"]  # stdout is the protocol's alone while serving, and given back after
    assert "stray print" in done.stderr.decode() and "stray write" in done.stderr.decode()
