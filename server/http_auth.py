"""Bearer tokens on the HTTP transport, through the MCP SDK's token-verification hook.

`StoreTokenVerifier` implements the SDK's `TokenVerifier`: the SDK's bearer middleware calls it
for every request, answers 401 with a `WWW-Authenticate` header pointing at the protected-
resource metadata when a token is missing or unknown, and serves that metadata itself
(`/.well-known/oauth-protected-resource/mcp`), which is what MCP clients expect. Tokens are
issued by `parallel-work-manager tokens create` and checked against their hash in the store.

`auth_for(settings)` decides at start-up: once one token exists the HTTP server requires one on
every request; with none, it binds to loopback only and says why.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from server.settings import Settings
from server.store import Store
from server.store.tokens import CALLER, Caller

__all__ = ["CallerFromToken", "HttpAuth", "StoreTokenVerifier", "auth_for", "current_caller"]


class StoreTokenVerifier:
    """Checks a bearer token against the store's hashed tokens (its own connection, opened lazily)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._lock = asyncio.Lock()

    async def _opened(self) -> Store:
        async with self._lock:
            if self._store is None:
                self._store = await Store.open(self.settings.db_url or self.settings.db_path,
                                               lease_s=self.settings.lease_seconds,
                                               poll_s=self.settings.poll_seconds)
            return self._store

    async def verify_token(self, token: str) -> AccessToken | None:
        caller = await (await self._opened()).verify_token(token)
        if caller is None:
            return None
        return AccessToken(
            token=token, client_id=caller.user, scopes=[caller.role], subject=caller.user,
            claims={"team": caller.team, "role": caller.role, "budget_usd": caller.budget_usd,
                    "team_budget_usd": caller.team_budget_usd},
        )

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None


@dataclass(frozen=True)
class HttpAuth:
    verifier: StoreTokenVerifier | None
    auth: AuthSettings | None
    host: str  # where to bind: loopback when no token exists
    reason: str  # what to log at start-up


async def _token_count(settings: Settings) -> int:
    store = await Store.open(settings.db_url or settings.db_path)
    try:
        return await store.token_count()
    finally:
        await store.close()


def auth_for(settings: Settings, loopback: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")) -> HttpAuth:
    """How the HTTP transport authenticates, decided from the store's tokens (call before serving)."""
    count = asyncio.run(_token_count(settings))
    if count == 0:
        host = settings.http_host if settings.http_host in loopback else "127.0.0.1"
        why = ("no access token exists, so the HTTP server accepts unauthenticated requests and listens on"
               " loopback only")
        if host != settings.http_host:
            why += f" (not {settings.http_host}); create one with `parallel-work-manager tokens create --user NAME`"
        return HttpAuth(None, None, host, why)
    url = f"http://{settings.http_host}:{settings.http_port}/mcp"
    auth = AuthSettings(issuer_url=url, resource_server_url=url, validate_token_resource=False)
    return HttpAuth(StoreTokenVerifier(settings), auth, settings.http_host,
                    f"{count} access token(s) exist: every HTTP request needs a bearer token")


def current_caller() -> Caller | None:
    """The authenticated caller of the current HTTP request (None on stdio or without auth)."""
    token = get_access_token()
    if token is None:
        return None
    claims = token.claims or {}
    return Caller(user=token.client_id, team=claims.get("team"), role=str(claims.get("role") or "user"),
                  budget_usd=claims.get("budget_usd"), team_budget_usd=claims.get("team_budget_usd"))


class CallerFromToken:
    """Server middleware: each request runs as the user its bearer token was issued to."""

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        caller = current_caller()
        if caller is None:
            return await call_next(ctx)
        reset = CALLER.set(caller)
        try:
            return await call_next(ctx)
        finally:
            CALLER.reset(reset)
