"""The provider client's network backend on asyncio's transports (`server.backends.network`): httpx's
timeouts and errors as with its own backend, idle connections the server closed not reused, large
bodies both ways, TLS inside a proxy's CONNECT tunnel. Real sockets on the loopback throughout."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import trustme

from server.backends.http_client import provider_http_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A loopback server running `handler` per connection; its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (after its head)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return await reader.readexactly(length)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request and never answers."""
    await read_request(reader)
    await asyncio.sleep(30)


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.usefixtures("no_proxy")
async def test_an_answer_slower_than_the_read_timeout_raises_httpx_read_timeout() -> None:
    async with serving(silent) as port, provider_http_client(2, 2, timeout=httpx.Timeout(0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.usefixtures("no_proxy")
async def test_a_caller_cancelling_a_waiting_read_is_cancelled_not_timed_out() -> None:
    async with serving(silent) as port, provider_http_client(2, 2, timeout=httpx.Timeout(10.0)) as http:
        call = asyncio.create_task(http.get(f"http://127.0.0.1:{port}/"))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


@pytest.mark.usefixtures("no_proxy")
async def test_a_refused_connection_raises_httpx_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    async with provider_http_client(2, 2) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.usefixtures("no_proxy")
async def test_an_answer_cut_short_raises_and_a_reset_connection_raises_a_read_error() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # close with RST

    async with serving(cut) as port, provider_http_client(2, 2) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://127.0.0.1:{port}/")
    async with serving(reset) as port, provider_http_client(2, 2) as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.get(f"http://127.0.0.1:{port}/")


@pytest.mark.usefixtures("no_proxy")
async def test_a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    connections: list[int] = []

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(answer(b"ok"))  # keep-alive by HTTP/1.1 default, then closed anyway
        await writer.drain()

    async with serving(once) as port, provider_http_client(2, 2) as http:
        for _ in range(3):
            reply = await http.get(f"http://127.0.0.1:{port}/")
            assert reply.text == "ok"
            await asyncio.sleep(0.05)  # the server's close arrives while the connection is idle
    assert len(connections) == 3


@pytest.mark.usefixtures("no_proxy")
async def test_bodies_larger_than_the_buffers_go_both_ways_whole() -> None:
    big = bytes(range(256)) * 16384  # 4 MiB: past the transport's write mark and the read pause

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.1)  # the client's writes back up meanwhile
        body = await read_request(reader)
        writer.write(answer(body))
        await writer.drain()

    async with serving(echo) as port, provider_http_client(2, 2) as http:
        async with http.stream("POST", f"http://127.0.0.1:{port}/", content=big) as reply:
            await asyncio.sleep(0.1)  # the answer backs up unread meanwhile
            received = b"".join([piece async for piece in reply.aiter_raw()])
    assert received == big


async def test_https_through_a_connect_proxy_starts_tls_inside_the_tunnel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    tunnels: list[bytes] = []

    async def provider(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer(b"tls:" + body))
            await writer.drain()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        tunnels.append(head.split(b"\r\n")[0])
        target = head.split()[1].decode()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(target.rsplit(":", 1)[1]))
        try:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
        finally:
            up_writer.close()

    async with serving(provider, server_context) as port, serving(proxy) as proxy_port:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # httpx trusts it, as users point it
        async with provider_http_client(2, 2) as http:
            for n in range(2):
                reply = await http.post(f"https://localhost:{port}/v1/echo", content=b"n=%d" % n)
                assert reply.text == f"tls:n={n}"
    assert tunnels == [f"CONNECT localhost:{port} HTTP/1.1".encode()]
