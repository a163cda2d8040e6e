"""Build the MCP server: the lifespan that owns the engine, and the tool registrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from server import __version__
from server.dashboard import register_dashboard
from server.settings import Settings
from server.state import AppState, open_app_state
from tools.surface import TOOL_MODULES, ToolServer, register_tools

__all__ = ["TOOL_MODULES", "build_server"]

INSTRUCTIONS = (
    "parallel-work-manager routes coding tasks to the right model. Call route_task to see where a "
    "task would go and what it would cost; submit_parallel_tasks to run many at once; "
    "get_parallel_group_status to follow them; validate_workspace to check a project."
)


def build_server(settings: Settings) -> MCPServer[AppState]:
    """An `MCPServer` whose lifespan opens (and closes) the engine built from `settings`."""
    holder: dict[str, AppState] = {}  # the live state, for the dashboard's plain HTTP routes

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = await open_app_state(settings)
        holder["state"] = state
        try:
            yield state
        finally:
            holder.pop("state", None)
            await state.aclose()

    mcp = ToolServer(
        name="parallel-work-manager",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level if settings.log_level in _LEVELS else "INFO",  # type: ignore[arg-type]
    )
    register_tools(mcp, settings.tools)
    register_dashboard(mcp, get_state=lambda: holder.get("state"))
    return mcp


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
