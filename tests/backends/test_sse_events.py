"""`sse_events` reads an event stream as httpx_sse does, however the body is cut into chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from httpx_sse import EventSource

from server.backends.sse import sse_events

STREAM = (
    ": keep-alive\r\n\r\n"
    "data: {\"a\": 1}\r\n\r\n"
    "event: content_block_delta\ndata: first\ndata:second\n\n"
    "id: 7\rdata: caf\u00e9 \u2603\r\r"
    "retry: 30\n\n"
    "unknown: x\ndata\n\n"
    "data: [DONE]\n\n"
    "data: cut off before its blank line"
).encode()


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def _response(chunks: list[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Chunks(chunks))


async def _ours(chunks: list[bytes]) -> list[tuple[str, str]]:
    return [event async for event in sse_events(_response(chunks))]


async def _reference() -> list[tuple[str, str]]:
    return [(e.event, e.data) async for e in EventSource(_response([STREAM])).aiter_sse()]


def test_events_match_httpx_sse_at_every_split_of_the_body_including_inside_crlf_and_utf8() -> None:
    async def scenario() -> None:
        expected = await _reference()
        assert ("message", "[DONE]") in expected and ("content_block_delta", "first\nsecond") in expected
        assert await _ours([STREAM]) == expected
        for cut in range(1, len(STREAM)):
            assert await _ours([STREAM[:cut], STREAM[cut:]]) == expected, cut
        assert await _ours([STREAM[i:i + 1] for i in range(len(STREAM))]) == expected

    asyncio.run(scenario())
