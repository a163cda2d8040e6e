"""Server-sent events read straight off a streamed httpx response: (event name, data) pairs.

The rules are the WHATWG event-stream ones, as `httpx_sse` applies them: lines end in CRLF, LF
or CR; `data` lines of one event join with newlines; comments and unknown fields are ignored;
an event without a name is "message"; a blank line ends an event (an event cut off by the end
of the body is dropped). Done here in one loop over the body's bytes instead of httpx_sse's
stacked generators (text, then lines, then events), which cost event-loop CPU on every chunk.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator

import httpx

__all__ = ["sse_events"]


class _Events:
    """The event being assembled, across lines."""

    __slots__ = ("data", "event", "last_id", "retry")

    def __init__(self) -> None:
        self.event = ""
        self.data: list[str] = []
        self.last_id = ""  # never reset between events, as the spec says
        self.retry: int | None = None

    def line(self, line: str) -> tuple[str, str] | None:
        """Take one line; the event it completes, if any."""
        if not line:
            if not self.event and not self.data and not self.last_id and self.retry is None:
                return None
            done = (self.event or "message", "\n".join(self.data))
            self.event, self.data, self.retry = "", [], None
            return done
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            try:
                self.retry = int(value)
            except ValueError:
                pass
        return None


def _split(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


async def sse_events(response: httpx.Response) -> AsyncGenerator[tuple[str, str], None]:
    """The events of `response`'s body (UTF-8, as the format mandates), as they arrive."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    events = _Events()
    pending = ""  # the start of a line not yet ended
    async for chunk in response.aiter_bytes():
        text = pending + decoder.decode(chunk)
        # A CR at the end may be the first half of a CRLF: decide once the next byte is in.
        held = text.endswith("\r")
        lines = _split(text[:-1] if held else text)
        pending = lines.pop() + ("\r" if held else "")
        for line in lines:
            done = events.line(line)
            if done is not None:
                yield done
    tail = pending + decoder.decode(b"", final=True)
    if tail.endswith("\r"):
        tail = tail[:-1]
    if tail:
        for line in _split(tail):
            done = events.line(line)
            if done is not None:
                yield done
