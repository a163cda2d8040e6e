"""Helpers every tool wrapper uses: reach the app state, turn expected errors into `ToolError`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from server.errors import PWMError
from server.state import AppState

__all__ = ["app_state", "expected_errors"]


def app_state(ctx: Context[Any, Any]) -> AppState:
    """The lifespan-owned `AppState` of the server handling this request."""
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - a wiring bug, not a user error
        raise RuntimeError("server lifespan did not provide an AppState")
    return state


@contextmanager
def expected_errors() -> Iterator[None]:
    """Re-raise our own errors as `ToolError`, the only text the client's model sees."""
    try:
        yield
    except PWMError as exc:
        raise ToolError(str(exc)) from exc
