"""MCP log messages to the client (`notifications/message`), at the level the client asked for.

The server sends a few warnings this way (a budget crossing its warn threshold). Protocol
versions up to 2025-11-25 declare the `logging` capability and let the client pick the lowest
level it wants with `logging/setLevel`; `register_set_level` serves that request and
`send_client_log` honours the choice per connection (until one is made, every level is sent,
as those versions expect). From 2026-07-28 a client opts in per request and the SDK filters
on its own, so both paths go through `send_client_log`.

The SDK marks client logging deprecated for 2026-07-28 (SEP-2577) and warns when it is used;
the warning is silenced around our calls only.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any, get_args

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams

__all__ = ["LEVELS", "register_set_level", "send_client_log"]

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # least severe first (RFC 5424 order)

# The level each connection asked for; a connection that is gone drops out by itself.
_chosen: weakref.WeakKeyDictionary[Any, LoggingLevel] = weakref.WeakKeyDictionary()


def register_set_level(mcp: MCPServer[Any]) -> None:
    """Serve `logging/setLevel` on `mcp` (which also makes it declare the `logging` capability)."""

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        _chosen[_connection_of(ctx.session)] = params.level
        return EmptyResult()

    # MCPServer has no public hook for this request; the SDK points to the low-level server's
    # add_request_handler for re-providing a method the 2026 revision removed.
    mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


def _connection_of(session: Any) -> Any:
    # A ServerSession is built per request around its connection's one `Connection` object,
    # which the SDK does not expose publicly; the session itself is the fallback key.
    return getattr(session, "_connection", session)


def level_for(session: Any) -> LoggingLevel | None:
    """The level `session`'s connection chose with `logging/setLevel` (None: it never chose)."""
    return _chosen.get(_connection_of(session))


async def send_client_log(ctx: Context[Any, Any], level: LoggingLevel, text: str) -> bool:
    """Send `text` as a log message when the client wants `level`; True when it was sent."""
    request_context = ctx.request_context
    chosen = level_for(request_context.session)
    if chosen is not None and LEVELS.index(level) < LEVELS.index(chosen):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        pending = request_context.session.send_log_message(
            level=level, data=text, logger="parallel-work-manager", related_request_id=ctx.request_id
        )
    await pending
    return True
