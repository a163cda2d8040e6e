"""Fixtures for backend tests: one loopback provider per module (reset for each test), one client
(the server's own: `provider_http_client`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from server.backends.http_client import provider_http_client
from tests.support import LoopbackProvider


@pytest.fixture(scope="module")
def loopback_server() -> Iterator[LoopbackProvider]:
    with LoopbackProvider() as server:
        yield server


@pytest.fixture
def lp(loopback_server: LoopbackProvider) -> LoopbackProvider:
    loopback_server.reset()
    return loopback_server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with provider_http_client(16, 8) as http:
        yield http


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the environment: the client talks to the loopback servers directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
