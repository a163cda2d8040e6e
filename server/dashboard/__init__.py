"""The `/dashboard` page on the HTTP transport: charts of spend, latency, success and progress.

    register_dashboard(mcp)                       # after the tools, before mcp.run("streamable-http")
    register_dashboard(mcp, get_state=lambda: holder.state)   # or hand it the AppState explicitly

Routes: `GET /dashboard` (the page), `GET /dashboard/app.js` and `/dashboard/app.css` (served from
this package: no CDN, no extra dependency), `GET /dashboard/data?days=N` (the JSON it draws).
The page draws inline SVG with a small vanilla script and refreshes every 10 s.

Custom routes bypass the MCP transport's DNS-rebinding check, so these check the Host header
themselves: only loopback names and the configured bind host are answered.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.dashboard.data import dashboard_data
from server.perf.service import perf_services
from server.state import AppState

__all__ = ["dashboard_data", "register_dashboard"]

_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "index.html": "text/html; charset=utf-8",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"}


def _static(name: str) -> str:
    return (resources.files("server.dashboard") / "static" / name).read_text(encoding="utf-8")


def _host_allowed(request: Request, state: AppState | None) -> bool:
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    allowed = set(_LOOPBACK)
    if state is not None:
        allowed.add(state.settings.http_host)
    return name in allowed


def _session_state(mcp: Any) -> AppState | None:
    # The streamable-HTTP session manager enters the server lifespan once and keeps its result.
    try:
        manager = mcp.session_manager
    except (RuntimeError, AttributeError):
        return None
    state = getattr(manager, "_lifespan_state", None)
    return state if isinstance(state, AppState) else None


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _needs_token(request: Request) -> bool:
    # With tokens (server/http_auth.py) the SDK's authentication middleware sets scope["user"].
    user = request.scope.get("user")
    return user is not None and not user.is_authenticated


def register_dashboard(mcp: Any, get_state: Callable[[], AppState | None] | None = None) -> None:
    """Add the dashboard routes to `mcp` (an `MCPServer`); see the module docstring."""
    state_of = get_state or (lambda: _session_state(mcp))

    async def page(request: Request) -> Response:
        if not _host_allowed(request, state_of()):
            return Response("unknown host", status_code=421)
        if _needs_token(request):
            return Response("a bearer token is required", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        name = request.path_params.get("name", "index.html")
        if name not in _STATIC:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=_STATIC[name], headers=_HEADERS)

    async def data(request: Request) -> Response:
        state = state_of()
        if not _host_allowed(request, state):
            return Response("unknown host", status_code=421)
        if _needs_token(request):
            return Response("a bearer token is required", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if state is None:
            return JSONResponse({"error": "the server is starting"}, status_code=503)
        try:
            days = float(request.query_params.get("days", "30"))
        except ValueError:
            return JSONResponse({"error": "days: expected a number of days (1-366)"}, status_code=400)
        if not 0 < days <= 366:
            return JSONResponse({"error": "days: expected a number of days (1-366)"}, status_code=400)
        body = await dashboard_data(perf_services(state), days=days)
        return JSONResponse(_clean(body), headers={"Cache-Control": "no-store"})

    mcp.custom_route("/dashboard", methods=["GET"], name="dashboard")(page)
    mcp.custom_route("/dashboard/data", methods=["GET"], name="dashboard_data")(data)
    mcp.custom_route("/dashboard/{name:str}", methods=["GET"], name="dashboard_static")(page)
