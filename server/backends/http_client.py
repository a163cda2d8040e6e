"""The HTTP client every provider call goes through: httpx, pooled, on asyncio's own transports,
one write per request.

httpcore writes an HTTP/1.1 request in two steps, its head and then its body, and each step is
its own `send`: two TCP segments (two TLS records against a real provider), and on a loopback
or a busy machine two wake-ups of the other side, which gets the head and waits for the body.
`CoalescingBackend` wraps httpcore's network backend so that a write is held until the next
one (then both go out as one) or until the connection reads, starts TLS or closes. A request's
head and body leave in one `send`; nothing is ever held across a read, so the response never
waits for it. Measured beside plain httpx on the loopback provider at 20 ms latency
(`bench/bench_connections.py --latency 0.02`, blocks of calls interleaved): on a busy 2-core
machine (load average about 2) 0.10-0.55 ms less per streamed call; on a quiet one within the
noise (-0.07 to +0.08 ms). Against a hosted provider it also halves the packets (and TLS records)
a request takes.

Under the coalescing sits `server.backends.network.AsyncioBackend` instead of httpx's default
(anyio's streams): 0.17-0.28 ms and 0.25-0.34 ms of CPU less per streamed call on the loopback
(`bench/bench_connections.py`, quiet 2-core machine, 3 runs of 200 calls per protocol).

httpx has no argument for the network backend, so `provider_http_client` builds httpx's own
client (its transports, with any proxy the environment names) and sets the backend of each
httpcore pool inside them; if a later httpx lays them out differently, the client is plain httpx
(same behaviour, one write more per request and anyio's streams).
"""

# httpcore's network interface takes `timeout` arguments; the methods here keep its signatures.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
import typing

import httpcore
import httpx

from server.backends.network import AsyncioBackend

__all__ = ["CoalescingBackend", "CoalescingStream", "provider_http_client", "send_streaming"]

log = logging.getLogger(__name__)


class CoalescingStream(httpcore.AsyncNetworkStream):
    """A network stream whose writes wait for the next write, read, TLS start or close."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._held = b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._held:
            buffer, self._held = self._held + buffer, b""
            await self._inner.write(buffer, timeout)
        else:
            self._held = bytes(buffer)

    async def _flush(self, timeout: float | None) -> None:
        if self._held:
            held, self._held = self._held, b""
            await self._inner.write(held, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush(timeout)  # what is held goes out under the read's timeout
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held = b""  # a request abandoned before its answer was read is not sent
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: typing.Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        await self._flush(timeout)
        return CoalescingStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class CoalescingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (`inner`), its streams wrapped in `CoalescingStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return CoalescingStream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return CoalescingStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def provider_http_client(max_connections: int, max_keepalive: int, *, timeout: httpx.Timeout | None = None
                         ) -> httpx.AsyncClient:
    """The pooled client for provider calls: httpx's own, proxies from the environment honoured as
    httpx does (`HTTPS_PROXY`, `NO_PROXY`, ...), each pool on asyncio's transports, its writes coalesced."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
    client = httpx.AsyncClient(limits=limits, timeout=timeout or httpx.Timeout(5.0), follow_redirects=False)
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        current = getattr(pool, "_network_backend", None)
        if isinstance(pool, httpcore.AsyncConnectionPool) and isinstance(current, httpcore.AsyncNetworkBackend):
            pool._network_backend = CoalescingBackend(AsyncioBackend())
        elif transport is not None:  # pragma: no cover - another httpx layout: plain httpx
            log.debug("httpx transport %r has no httpcore pool to set up; plain httpx it is", transport)
    return client


async def send_streaming(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """`client.send(request, stream=True)`, straight to the transport httpx would pick for the URL
    (its mounts: proxies from the environment) when nothing of the client's own sending applies.

    `send` runs an auth flow, a redirect loop, event hooks and a timer around the transport call,
    and stores the response's cookies: about 0.35M instructions per streamed call here (the engine
    task's count under callgrind, as `bench/bench_instructions.py` takes it, fell from 4.86M to
    4.51M with this path), none of it used by a provider call: the key is a header, redirects are
    not followed, no hooks. Taken only for such a client (no auth, no hooks,
    no redirects followed); cookies a provider sets are stored as `send` stores them.
    """
    transport_for = getattr(client, "_transport_for_url", None)
    if (transport_for is None or client.auth is not None or client.follow_redirects
            or any(client.event_hooks.values()) or client.is_closed):
        return await client.send(request, stream=True)
    response = await transport_for(request.url).handle_async_request(request)
    response.request = request
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    return response
