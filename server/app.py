"""Build the MCP server: the lifespan that owns the engine, and the tool registrations.

Start-up stays light on stdio: the dashboard (and what it pulls in) is registered only for
HTTP; the state (catalogue, store, engine: `server.state`) opens in the background once the
first request after `initialize` is answered, or when a request needs it, or after
`OPEN_ANYWAY_S` (so unfinished groups resume even with an idle client); and the tokenizer
warms in a background thread after that. A client's `initialize` and `tools/list` never wait
for any of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from mcp_types import Resource as MCPResource

from server import __version__
from server.client_logging import register_set_level
from server.errors import PWMError
from server.settings import Settings
from server.sigterm import stopping_on_sigterm
from server.state import AppState, StateOpener
from tools.surface import TOOL_MODULES, ToolServer, register_tools

if TYPE_CHECKING:
    from server.catalog import Catalog

__all__ = ["RECENT_GROUP_RESOURCES", "TOOL_MODULES", "PWMServer", "build_server"]

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "parallel-work-manager routes coding tasks to the right model. Call route_task to see where a "
    "task would go and what it would cost; submit_parallel_tasks to run many at once; "
    "get_parallel_group_status to follow them; validate_workspace to check a project."
)

RECENT_GROUP_RESOURCES = 20
"""How many of the most recent groups `resources/list` names (older ones stay readable by URI)."""

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

OPEN_ANYWAY_S = 2.0
"""On stdio, the state opens at the latest this long after start, even if no request came."""

# The requests whose handlers read the state; every other one (what a client sends while it
# connects: discovery, initialize, the lists) is answered without it.
_NEED_STATE = frozenset({"tools/call", "resources/list", "resources/read", "prompts/get", "completion/complete"})
_CONNECTING = frozenset({"server/discover", "initialize"})


class PWMServer(ToolServer):
    """`MCPServer` whose `resources/list` names the concrete resources, not only the templates.

    A template with only query variables (`pwm://models{?tier}`) is listed by its bare URI, and
    the group template (`pwm://groups/{group}`) once per recent group. Reads still go through
    the templates, so a listed URI and its template always answer the same.
    """

    def __init__(self, *args: Any, state_of: Callable[[], AppState | None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state_of = state_of

    async def run_stdio_async(self) -> None:
        """Serve on stdin/stdout, read and written on the event loop (`server.mcp_stdio`), until
        the client closes stdin or SIGTERM asks the server to stop (`stopping_on_sigterm`)."""
        from server.mcp_stdio import stdio_streams

        with stopping_on_sigterm():
            async with stdio_streams() as (read_stream, write_stream):
                lowlevel = self._lowlevel_server
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    async def list_resources(self) -> list[MCPResource]:
        listed = await super().list_resources()
        for template in await self.list_resource_templates():
            uri = template.uri_template
            base = uri.split("{?", 1)[0]
            if "{" not in base:
                listed.append(MCPResource(uri=base, name=template.name, title=template.title,
                                          description=template.description, mime_type=template.mime_type))
            elif uri == "pwm://groups/{group}":
                listed += await self._group_resources(template.mime_type)
        return listed

    async def _group_resources(self, mime_type: str | None) -> list[MCPResource]:
        state = self._state_of()
        if state is None or state.store is None:
            return []
        groups = await state.store.list_groups(limit=RECENT_GROUP_RESOURCES)
        return [
            MCPResource(uri=f"pwm://groups/{g.id}", name=f"group {g.name}", title=f"Group {g.name} ({g.status})",
                        description=f"Full results of group {g.name!r} ({g.id}): every task's output and "
                                    "every attempt.", mime_type=mime_type)
            for g in groups
        ]


def _caller_from_token() -> Any:
    from server.http_auth import CallerFromToken

    return CallerFromToken()


class _StateWhenNeeded:
    """Middleware: hand each request the open `AppState`, opening it only once it is needed.

    The lifespan yields a `StateOpener`; a request that needs the state waits for it and goes
    on with a context carrying the `AppState`. The first answer after `initialize` starts the
    opening in the background, and the tokenizer warms once the state is open.
    """

    def __init__(self) -> None:
        self._started = False

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        opener = ctx.lifespan_context
        if not isinstance(opener, StateOpener):
            return await call_next(ctx)
        if ctx.method not in _NEED_STATE:
            result = await call_next(ctx)
            if ctx.method not in _CONNECTING and not ctx.method.startswith("notifications/"):
                self._start(opener)
            return result
        self._start(opener)
        try:
            state = await opener.get()
        except PWMError as exc:
            raise MCPError(code=INTERNAL_ERROR, message=f"the server could not start: {exc}") from exc
        return await call_next(dataclasses.replace(ctx, lifespan_context=state))

    def _start(self, opener: StateOpener) -> None:
        if not self._started:
            self._started = True
            opener.start()
            asyncio.get_running_loop().create_task(_warm_tokenizer(opener), name="warm-tokenizer")


async def _warm_tokenizer(opener: StateOpener) -> None:
    try:
        await opener.get()
        from server.analysis.tokens import count_tokens

        await asyncio.to_thread(count_tokens, "warm the tokenizer")
    except Exception:  # a failed warm-up only means the first real count loads it
        log.debug("tokenizer warm-up failed", exc_info=True)


def build_server(settings: Settings, *, http: bool = False, token_verifier: Any = None, auth: Any = None,
                 catalog: Catalog | None = None) -> PWMServer:
    """A server whose lifespan opens (and closes) the engine built from `settings`.

    `http=True` adds the dashboard routes (served beside `/mcp` by `run("streamable-http")`).
    `catalog`: the catalogue, when it was loaded already (the command line checks the user's
    manifests before serving); else it is loaded with the state.
    """
    openers: list[StateOpener] = []  # the live one, for resources/list and the dashboard

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[StateOpener]:
        opener = StateOpener(settings, catalog)
        openers.append(opener)
        if http:
            opener.start()
        timer = asyncio.get_running_loop().call_later(OPEN_ANYWAY_S, opener.start)
        try:
            yield opener
        finally:
            timer.cancel()
            openers.remove(opener)
            await opener.aclose()

    def state_of() -> AppState | None:
        return openers[-1].state if openers else None

    mcp = PWMServer(
        name="parallel-work-manager",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,  # yields a StateOpener: _StateWhenNeeded hands requests the AppState
        log_level=settings.log_level if settings.log_level in _LEVELS else "INFO",
        middleware=[_StateWhenNeeded(), *([_caller_from_token()] if token_verifier is not None else [])],
        state_of=state_of,
        token_verifier=token_verifier,  # bearer tokens over HTTP (server/http_auth.py)
        auth=auth,
    )
    register_set_level(mcp)
    register_tools(mcp, settings.tools)
    if http:
        from server.dashboard import register_dashboard

        register_dashboard(mcp, get_state=state_of)
    return mcp
