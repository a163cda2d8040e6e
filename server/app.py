"""Build the MCP server: the lifespan that owns the engine, and the tool registrations."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from server import __version__
from server.dashboard import register_dashboard
from server.settings import Settings
from server.state import AppState, open_app_state

__all__ = ["TOOL_MODULES", "build_server"]

# Each module exposes `register(mcp)`; the order is the order tools are listed.
TOOL_MODULES: tuple[str, ...] = (
    "tools.submit_parallel_tasks",
    "tools.get_parallel_group_status",
    "tools.cancel_parallel_group",
    "tools.route_task",
    "tools.validate_workspace",
    "tools.apply_validated_patch",
    "tools.performance",
)

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

    mcp: MCPServer[AppState] = MCPServer(
        name="parallel-work-manager",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level if settings.log_level in _LEVELS else "INFO",  # type: ignore[arg-type]
    )
    for module_name in TOOL_MODULES:
        importlib.import_module(module_name).register(mcp)
    register_dashboard(mcp, get_state=lambda: holder.get("state"))
    return mcp


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
