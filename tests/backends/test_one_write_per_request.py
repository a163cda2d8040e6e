"""A request's head and body leave in one write (`server.backends.http_client`), over the real
network stack to the loopback provider; nothing is held across a read, a TLS start or a close."""

from __future__ import annotations

import typing

import httpcore
import httpx
import pytest

from server.backends.http_client import CoalescingBackend, CoalescingStream, provider_http_client
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

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class CountingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
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
