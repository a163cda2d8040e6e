"""MCP over stdio without a thread hop per message: stdin and stdout read and written on the event loop.

The SDK's `stdio_server()` wraps stdin and stdout in anyio's thread-backed files: every line read,
every write and every flush is a trip to a worker thread and back (three per reply), each a
wake-up of another thread and of the loop; on a busy machine each wake-up may wait for a CPU.
When both are pipes or sockets (as every MCP client launches a server), `stdio_streams` reads
and writes them with asyncio's non-blocking pipe transports instead and hands them to the same
SDK transport; anything else (a file, a terminal, stdout shared with stderr) keeps the SDK's way.

Like the SDK, while serving fd 0 reads the null device and fd 1 writes to stderr, so stray output
of a library or a child process never reaches the protocol stream; both are restored on exit.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

import anyio
from mcp.server.stdio import stdio_server

__all__ = ["stdio_streams"]

_CHUNK = 1 << 16


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _native_possible() -> bool:
    """Pipes or sockets on both ends, each its own: not one socket for both ways (asyncio's write
    transport reads its socket to notice the peer closing), and stdout not the very stream stderr
    writes to (making stdout non-blocking would then make stderr's writes fail when it is full)."""
    if sys.platform == "win32" or not (_is_pipe_or_socket(0) and _is_pipe_or_socket(1)):
        return False
    try:
        streams = [os.fstat(fd) for fd in (0, 1, 2)]
    except OSError:
        return False
    stdin, stdout, stderr = ((s.st_dev, s.st_ino) for s in streams)
    return stdout not in (stdin, stderr)


class _Lines:
    """The lines of a stream reader as text, each with its newline (as `async for` over a file)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._scanned = 0
                return line.decode("utf-8", errors="replace")
            self._scanned = len(self._buffer)
            chunk = await self._reader.read(_CHUNK)
            if not chunk:
                if not self._buffer:
                    raise StopAsyncIteration
                line = bytes(self._buffer)
                self._buffer.clear()
                self._scanned = 0
                return line.decode("utf-8", errors="replace")
            self._buffer += chunk


class _Out:
    """Text writes to a stream writer; `flush` waits while the client is not reading (backpressure)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _divert(fd: int) -> int:
    """Move the stream on `fd` to a private descriptor (returned); `fd` then reads the null
    device (stdin) or writes to stderr (stdout)."""
    import fcntl

    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    diversion = os.open(os.devnull, os.O_RDONLY) if fd == 0 else os.dup(2)
    try:
        os.dup2(diversion, fd)
    finally:
        os.close(diversion)
    return private


def _restore(fd: int, private: int) -> None:
    os.set_blocking(private, True)  # the open stream is shared with whoever started us
    os.dup2(private, fd)
    os.close(private)


@asynccontextmanager
async def _native() -> AsyncIterator[tuple[Any, Any]]:
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        stdin_fd = _divert(0)
        stack.callback(_restore, 0, stdin_fd)
        stdout_fd = _divert(1)
        stack.callback(_restore, 1, stdout_fd)
        # The transports own duplicates, so closing them never closes what `_restore` puts back.
        reader = asyncio.StreamReader(limit=_CHUNK * 4, loop=loop)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(os.dup(stdin_fd), "rb", buffering=0))
        stack.callback(read_transport.close)
        write_transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), loop=loop),
            os.fdopen(os.dup(stdout_fd), "wb", buffering=0))
        stack.callback(write_transport.close)
        write_transport.set_write_buffer_limits(high=0)  # a flush waits until the pipe took it all, as before
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        stdin = cast("anyio.AsyncFile[str]", _Lines(reader))
        stdout = cast("anyio.AsyncFile[str]", _Out(writer))
        async with stdio_server(stdin=stdin, stdout=stdout) as streams:
            yield streams


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """The (read, write) message streams of the SDK's stdio transport over this process's
    stdin and stdout, read and written on the loop when they are pipes or sockets."""
    if _native_possible():
        async with _native() as streams:
            yield streams
    else:
        async with stdio_server() as streams:
            yield streams
