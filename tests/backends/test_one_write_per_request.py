"""A request's head and body leave in one write (`server.backends.http_client`), over the real
network stack to the loopback provider; nothing is held across a read, a TLS start or a close."""

from __future__ import annotations

import asyncio
import ssl
import typing

import httpcore
import httpx
import pytest
import trustme

from server.backends.http_client import CoalescingBackend, CoalescingStream, provider_http_client
from server.backends.network import AsyncioBackend
from tests.backends.helpers import PROTOCOLS, backend, protocol_request
from tests.support import LoopbackProvider, Reply


class CountingStream(httpcore.AsyncNetworkStream):
    """The real network stream, its writes counted (what reaches the socket, in order)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, writes: list[bytes]) -> None:
        self._inner = inner
        self.writes = writes

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if buffer:  # an empty write sends nothing (httpcore's own backend returns at once)
            self.writes.append(bytes(buffer))
        await self._inner.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:  # noqa: ASYNC109
        return CountingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout), self.writes)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class CountingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = AsyncioBackend()  # what the server's client wraps
        self.writes: list[bytes] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        return CountingStream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options),
                              self.writes)


def _client(network: httpcore.AsyncNetworkBackend) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = network  # the same wiring as provider_http_client
    return httpx.AsyncClient(transport=transport)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_request_goes_out_in_one_write_and_the_answer_comes_back(
    lp: LoopbackProvider, protocol: str
) -> None:
    lp.set_default(Reply("several words in a few chunks", chunks=4))
    counting = CountingBackend()
    async with _client(CoalescingBackend(counting)) as http:
        speaker = backend(protocol, http)
        for _ in range(3):
            done = await speaker.complete(protocol_request(lp, protocol, stream=True))
            assert done.text == "several words in a few chunks"
    assert len(counting.writes) == 3
    assert all(w.startswith(b"POST ") and w.rstrip().endswith(b"}") for w in counting.writes)
    assert lp.connections == 1


async def test_without_the_wrapper_httpcore_writes_head_and_body_apart(lp: LoopbackProvider) -> None:
    counting = CountingBackend()
    async with _client(counting) as http:
        await backend("openai", http).complete(protocol_request(lp, "openai"))
    assert len(counting.writes) == 2
    assert counting.writes[0].endswith(b"\r\n\r\n") and counting.writes[1].startswith(b"{")


async def test_a_body_less_request_is_sent_before_its_answer_is_read(lp: LoopbackProvider) -> None:
    counting = CountingBackend()
    async with _client(CoalescingBackend(counting)) as http:
        reply = await http.get(lp.base_url + "/v1/models")
    assert reply.status_code == 200
    assert len(counting.writes) == 1 and counting.writes[0].startswith(b"GET ")


async def test_the_servers_client_wraps_httpx_network_backend(lp: LoopbackProvider) -> None:
    async with provider_http_client(4, 2) as http:
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, CoalescingBackend)
        assert isinstance(pool._network_backend._inner, AsyncioBackend)
        for _ in range(3):
            await backend("openai", http).complete(protocol_request(lp, "openai", stream=True))
    assert lp.connections == 1


class _Recorder(httpcore.AsyncNetworkStream):
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.calls.append(("write", buffer))

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        self.calls.append(("read", b""))
        return b""

    async def aclose(self) -> None:
        self.calls.append(("close", b""))

    async def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:  # noqa: ASYNC109
        self.calls.append(("tls", b""))
        return self


async def test_a_held_write_goes_out_before_a_tls_start_and_is_dropped_at_close() -> None:
    inner = _Recorder()
    stream = CoalescingStream(inner)
    await stream.write(b"hello")
    assert inner.calls == []
    tls = await stream.start_tls(None)
    assert inner.calls == [("write", b"hello"), ("tls", b"")]
    assert isinstance(tls, CoalescingStream)
    await tls.write(b"unsent")
    await tls.aclose()
    assert inner.calls[-1] == ("close", b"") and ("write", b"unsent") not in inner.calls


async def test_over_tls_the_request_still_goes_out_in_one_write_and_the_connection_is_reused() -> None:
    """Real providers speak HTTPS: the held write survives the TLS start (a loopback TLS server
    with a test CA from `trustme`)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    accepted: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    counting = CountingBackend()
    transport = httpx.AsyncHTTPTransport(verify=client_context)
    transport._pool._network_backend = CoalescingBackend(counting)
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            for n in range(3):
                reply = await http.post(f"https://127.0.0.1:{port}/v1/echo", json={"n": n})
                assert reply.json() == {"n": n}
    finally:
        server.close()
        await server.wait_closed()
    assert accepted == [1]
    assert len(counting.writes) == 3  # what the TLS stream was given: head and body together


async def test_the_servers_client_still_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with provider_http_client(4, 2) as http:
            reply = await http.get("http://provider.invalid/v1/models")
    finally:
        server.close()
        await server.wait_closed()
    assert reply.text == "ok"
    assert seen and seen[0].startswith(b"GET http://provider.invalid/v1/models HTTP/1.1")
