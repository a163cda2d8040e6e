"""The server launched over stdio exactly as the example Claude Desktop config launches it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import REPO, VENV_BIN, isolated_env

EXPECTED_TOOLS = {"route_task", "submit_parallel_tasks", "get_parallel_group_status", "validate_workspace"}


def _example_server() -> dict[str, Any]:
    config = json.loads((REPO / "claude_desktop_config.example.json").read_text())
    server: dict[str, Any] = config["mcpServers"]["parallel-work-manager"]
    return server


def test_example_desktop_config_is_valid_json_naming_the_console_script() -> None:
    server = _example_server()
    assert server["command"] == "parallel-work-manager"
    assert server["args"] == ["serve"]
    assert all(isinstance(v, str) for v in server["env"].values())


async def test_stdio_server_started_like_claude_desktop_lists_the_tools(tmp_path: Path) -> None:
    server = _example_server()
    command = shutil.which(str(server["command"]), path=str(VENV_BIN))
    assert command, "the console script is installed next to the interpreter"
    env = {**server["env"], **isolated_env(tmp_path)}
    params = StdioServerParameters(command=command, args=list(server["args"]), env=env)
    async with Client(params, read_timeout_seconds=30) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert EXPECTED_TOOLS <= names
        result = await client.call_tool("route_task", {"task_description": "Fix a typo in the README"})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["recommended_variant"] == "speed"
