"""The `logging` capability: declared, `logging/setLevel` answered with {} and honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning

from server.app import build_server
from server.client_logging import send_client_log
from server.settings import load_settings
from tests.scheduler.overlay import loop_env


async def _emit(ctx: Context[Any, Any]) -> str:
    for level in ("debug", "info", "warning", "error"):
        await send_client_log(ctx, level, f"a {level} message")
    return "sent"


async def test_set_level_is_declared_answered_and_filters_later_messages(tmp_path: Path) -> None:
    mcp = build_server(load_settings(loop_env(tmp_path, "http://127.0.0.1:9/v1")))
    mcp.add_tool(_emit, name="emit_logs")  # a probe tool: our send path, over a real session
    received: list[str] = []

    async def on_log(params: Any) -> None:
        received.append(str(params.level))

    async with Client(mcp, mode="legacy", logging_callback=on_log) as client:
        capabilities = client.session.server_capabilities
        assert capabilities is not None and capabilities.logging is not None

        await client.call_tool("emit_logs", {})
        assert received == ["debug", "info", "warning", "error"]  # no level chosen yet: all of them

        received.clear()
        with pytest.warns(MCPDeprecationWarning):  # the SDK deprecates client logging for 2026-07-28
            answer = await client.set_logging_level("warning")
        assert answer.model_dump(exclude_none=True) == {}
        await client.call_tool("emit_logs", {})
        assert received == ["warning", "error"]
