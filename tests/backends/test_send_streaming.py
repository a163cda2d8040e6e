"""`send_streaming`: a provider call goes straight to the transport httpx would pick (proxies from
the environment included) and keeps the cookies a provider sets; a client with its own sending
(auth, hooks, redirects) goes through `client.send`. Real loopback servers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from server.backends.http_client import provider_http_client, send_streaming


async def _serve(seen: list[bytes]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                seen.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: lb=node-7; Path=/\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _read(response: httpx.Response) -> bytes:
    try:
        return b"".join([piece async for piece in response.aiter_bytes()])
    finally:
        await response.aclose()


@pytest.mark.usefixtures("no_proxy")
async def test_a_providers_cookie_is_kept_and_sent_back_like_httpx_does() -> None:
    seen: list[bytes] = []
    server = await _serve(seen)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat"
    try:
        async with provider_http_client(2, 2) as http:
            for _ in range(2):
                assert await _read(await send_streaming(http, http.build_request("POST", url, content=b"{}"))) == b"ok"
            assert http.cookies.get("lb") == "node-7"
    finally:
        server.close()
        await server.wait_closed()
    assert b"cookie: lb=node-7" not in seen[0].lower()
    assert b"cookie: lb=node-7" in seen[1].lower()  # build_request merges the kept cookie, as with send


@pytest.mark.usefixtures("no_proxy")
async def test_a_client_with_hooks_or_auth_sends_through_httpx_itself() -> None:
    seen: list[bytes] = []
    hooked: list[str] = []
    server = await _serve(seen)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat"

    async def hook(request: httpx.Request) -> None:
        hooked.append(str(request.url))

    try:
        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http:
            await _read(await send_streaming(http, http.build_request("POST", url, content=b"{}")))
        async with httpx.AsyncClient(auth=("user", "pass")) as http:
            await _read(await send_streaming(http, http.build_request("POST", url, content=b"{}")))
    finally:
        server.close()
        await server.wait_closed()
    assert hooked == [url]
    assert b"authorization: basic" in seen[1].lower()


async def test_the_proxy_the_environment_names_still_carries_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []
    proxy = await _serve(seen)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}")
    try:
        async with provider_http_client(2, 2) as http:
            request = http.build_request("POST", "http://provider.invalid/v1/chat", content=b"{}")
            assert await _read(await send_streaming(http, request)) == b"ok"
    finally:
        proxy.close()
        await proxy.wait_closed()
    assert seen and seen[0].startswith(b"POST http://provider.invalid/v1/chat HTTP/1.1")
