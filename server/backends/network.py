"""httpcore's network backend on asyncio's own transports: what every provider call's bytes go through.

httpx's default backend for asyncio is anyio's: each read and write enters a cancel scope
(`fail_after`), goes through anyio's stream and resource guards, and pauses and resumes the
socket's reading around every receive (two `epoll_ctl` calls). On a streamed call to the loopback
provider that is about a fifth of the client's instructions (callgrind over 100 requests of a plain
`httpx.AsyncClient`: 2.96M per request on anyio's backend, 2.43M on this one) and of its CPU time
(`bench/bench_connections.py`: the server's client against the same on anyio).

`AsyncioBackend` opens connections with `loop.create_connection` and hands httpcore an
`AsyncioStream`: a protocol that buffers what arrives and wakes the one reader, with a timer
only while a read or write actually waits. Behaviour is httpcore's contract, as anyio's backend
keeps it: connect, read and write timeouts raise `httpcore.ConnectTimeout` / `ReadTimeout` /
`WriteTimeout` (httpx's timeouts); a refused or reset connection raises `ConnectError` /
`ReadError` / `WriteError`; a clean close reads as `b""`; TLS (`start_tls`, also inside a proxy's
CONNECT tunnel) is asyncio's; `is_readable` tells the pool an idle kept-alive connection was
closed or sent something unasked, so it is not reused. A caller's cancellation is never turned
into a timeout. Reading pauses when more than `READ_HIGH` bytes wait unread and resumes below
`READ_LOW`; writing waits while the transport's buffer is over its high mark.
"""

# httpcore's network interface takes `timeout` arguments; the methods here keep its signatures.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
import typing
from collections.abc import Awaitable, Iterable

import httpcore

__all__ = ["READ_HIGH", "READ_LOW", "AsyncioBackend", "AsyncioStream"]

READ_HIGH = 256 * 1024
READ_LOW = 64 * 1024


class _Receiver(asyncio.Protocol):
    """What a connection received and its state; wakes the reader or writer waiting on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None  # the outermost: TLS once started
        self.buffer = bytearray()
        self.closed = False  # the peer closed, or the connection was lost
        self.error: BaseException | None = None
        self.reader: asyncio.Future[None] | None = None  # the read waiting for data
        self.writer: asyncio.Future[None] | None = None  # the write waiting for the buffer to drain
        self.write_paused = False  # the transport's buffer is over its high mark
        self.paused = False  # reading paused: too much unread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        _wake(self.reader)

    def eof_received(self) -> bool:
        self.closed = True
        _wake(self.reader)
        return False  # close the transport: a client has nothing left to say once the server stopped

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        _wake(self.reader)
        self.resume_writing()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        _wake(self.writer)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _wait(waiter: asyncio.Future[None], timeout: float | None, timed_out: type[Exception], what: str) -> None:
    """Wait for `waiter`; after `timeout` seconds raise `timed_out` (a caller's cancellation stays one)."""
    if timeout is None:
        await waiter
        return
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        waiter.cancel()

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        await waiter
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if expired and (task is None or not task.cancelling()):
            raise timed_out(f"{what} timed out after {timeout} s") from None
        raise
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (TCP or TLS) as httpcore reads and writes it."""

    def __init__(self, transport: asyncio.Transport, receiver: _Receiver) -> None:
        self._transport = transport
        self._receiver = receiver

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        receiver = self._receiver
        if not receiver.buffer and not receiver.closed:
            receiver.reader = asyncio.get_running_loop().create_future()
            try:
                await _wait(receiver.reader, timeout, httpcore.ReadTimeout, "read")
            finally:
                receiver.reader = None
        buffer = receiver.buffer
        if buffer:
            if len(buffer) <= max_bytes:
                data = bytes(buffer)
                buffer.clear()
            else:
                data = bytes(buffer[:max_bytes])
                del buffer[:max_bytes]
            if receiver.paused and len(buffer) < READ_LOW and receiver.transport is not None:
                receiver.paused = False
                receiver.transport.resume_reading()
            return data
        if receiver.error is not None:
            raise httpcore.ReadError(str(receiver.error) or type(receiver.error).__name__) from receiver.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        receiver = self._receiver
        if self._transport.is_closing() or receiver.error is not None:
            raise httpcore.WriteError(str(receiver.error or "the connection is closed"))
        self._transport.write(buffer)
        if receiver.write_paused and not receiver.closed:
            receiver.writer = asyncio.get_running_loop().create_future()
            try:
                await _wait(receiver.writer, timeout, httpcore.WriteTimeout, "write")
            finally:
                receiver.writer = None
        if receiver.error is not None:
            raise httpcore.WriteError(str(receiver.error)) from receiver.error

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._receiver, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake timed out after {timeout} s") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # pragma: no cover - asyncio returns None only for a closed transport
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._receiver.transport = transport  # reading pauses and resumes on the TLS transport now
        return AsyncioStream(transport, self._receiver)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":  # the pool asks before reusing an idle connection
            return bool(self._receiver.buffer) or self._receiver.closed
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


async def _open(connecting: Awaitable[tuple[asyncio.BaseTransport, _Receiver]], where: str,
                timeout: float | None, socket_options: Iterable[typing.Any] | None) -> AsyncioStream:
    """The stream of a connection `connecting` opens, within `timeout`; httpcore's errors on failure."""
    try:
        async with asyncio.timeout(timeout):
            transport, receiver = await connecting
    except TimeoutError as exc:  # before OSError: TimeoutError is one
        raise httpcore.ConnectTimeout(f"connecting to {where} timed out after {timeout} s") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in socket_options or ():
            sock.setsockopt(*option)
    return AsyncioStream(typing.cast(asyncio.Transport, transport), receiver)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections on the running loop's transports (see the module docstring)."""

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = None if local_address is None else (local_address, 0)
        connecting = asyncio.get_running_loop().create_connection(_Receiver, host, port, local_addr=local)
        return await _open(connecting, f"{host}:{port}", timeout, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connecting = asyncio.get_running_loop().create_unix_connection(_Receiver, path)
        return await _open(connecting, path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
