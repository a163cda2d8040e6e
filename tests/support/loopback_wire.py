"""The loopback provider's wire side: scriptable behaviours, recorded requests, and the pure
functions that render a behaviour as an OpenAI, Anthropic or Ollama answer (JSON, SSE, NDJSON).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from server.backends.base import ToolCall, Usage

__all__ = [
    "Behaviour",
    "Hang",
    "Malformed",
    "Protocol",
    "RecordedRequest",
    "Reply",
    "Respond",
    "Status",
    "StreamError",
    "Truncate",
    "raw_headers",
    "render",
    "render_status",
]

Protocol = Literal["openai", "anthropic", "ollama"]


@dataclass(frozen=True)
class Reply:
    """A successful answer. `usage="auto"` derives token counts from the prompt and text;
    `None` sends no usage at all. `usage_in_content_chunk` puts usage on the final content chunk
    (the shape LiteLLM loses) instead of a separate usage-only chunk."""

    text: str = "ok"
    usage: Usage | None | Literal["auto"] = "auto"
    cost: float | None = None  # OpenRouter-style usage.cost; also served by /generation
    usage_in_content_chunk: bool = True
    chunks: int = 3
    finish_reason: str = "stop"
    generation_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0
    # Tool calls after the text: streamed in pieces (OpenAI deltas interleaved by index, Anthropic
    # input_json_delta, Ollama whole), with the protocol's tool finish reason unless one is given.
    tool_calls: tuple[ToolCall, ...] = ()

    def stop_reason(self, tool_reason: str) -> str:
        return tool_reason if self.tool_calls and self.finish_reason == "stop" else self.finish_reason


@dataclass(frozen=True)
class Status:
    """An error answer with this HTTP status, in the protocol's error shape."""

    code: int
    retry_after: float | str | None = None  # seconds, or an HTTP date string
    retry_after_ms: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None  # Anthropic error.type / OpenAI error.type override
    body: str | None = None  # raw body instead of the protocol's error JSON


@dataclass(frozen=True)
class Hang:
    """Say nothing for `seconds` (before the headers, or mid-stream after `after_chunks` chunks)."""

    seconds: float = 3600.0
    after_chunks: int | None = None
    then: Reply = field(default_factory=Reply)


@dataclass(frozen=True)
class Truncate:
    """Start answering, then stop after `after_chunks` chunks: `abort` drops the connection,
    otherwise the body ends cleanly but without `[DONE]` / a finish reason."""

    text: str = "a partial answer that never ends"
    after_chunks: int = 1
    abort: bool = True


@dataclass(frozen=True)
class Malformed:
    """A body (or, streaming, a chunk after `after_chunks` good ones) that is not JSON."""

    after_chunks: int = 1


@dataclass(frozen=True)
class StreamError:
    """A 200 stream that carries an error event after `after_chunks` chunks
    (Anthropic `event: error`, OpenRouter `{"error": ...}`, Ollama `{"error": ...}`)."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    code: int = 529
    after_chunks: int = 1


@dataclass(frozen=True)
class Respond:
    """Compute the behaviour from the request (e.g. answer based on the prompt)."""

    fn: Callable[[RecordedRequest], Behaviour]


Behaviour = Reply | Status | Hang | Truncate | Malformed | StreamError | Respond


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any
    time: float  # time.time()
    monotonic: float
    protocol: str | None = None
    status: int | None = None
    client: tuple[str, int] | None = None  # the peer's address: one per TCP connection

    @property
    def messages(self) -> list[dict[str, Any]]:
        if not isinstance(self.json, dict) or not isinstance(self.json.get("messages"), list):
            return []
        return [m for m in self.json["messages"] if isinstance(m, dict)]

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def prompt(self) -> str:
        """Every message's text, joined (plus Anthropic's `system`)."""
        if not isinstance(self.json, dict):
            return ""
        parts = [str(self.json.get("system", ""))] if self.json.get("system") else []
        parts += [_text_of(m.get("content")) for m in self.messages]
        return "\n".join(parts)


def _text_of(content: Any) -> str:
    """A message's text: a string, or Anthropic's blocks (text and tool results)."""
    if isinstance(content, list):
        return "\n".join(
            _text_of(block.get("text", block.get("content"))) for block in content if isinstance(block, dict)
        )
    return "" if content is None else str(content)


_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def render_status(protocol: Protocol, status: Status) -> bytes:
    """The error body for `status` in the protocol's own error shape."""
    message = status.message or {
        401: "Invalid authentication",
        403: "Forbidden",
        404: "The model does not exist",
        429: "Rate limit reached",
        503: "server busy, please try again",
    }.get(status.code, f"error {status.code}")
    if status.body is not None:
        return status.body.encode()
    if protocol == "anthropic":
        kind = status.error_type or _ANTHROPIC_ERRORS.get(status.code, "api_error")
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    if protocol == "ollama":
        return json.dumps({"error": message}).encode()
    error = {"message": message, "type": status.error_type or "error", "code": status.code}
    return json.dumps({"error": error}).encode()


def raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]


def _split(text: str, count: int) -> list[str]:
    if not text:
        return [""]
    count = max(1, min(count, len(text)))
    size = math.ceil(len(text) / count)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage_of(reply: Reply, req: RecordedRequest) -> Usage | None:
    if reply.usage == "auto":
        return Usage(input_tokens=max(1, len(req.prompt) // 4), output_tokens=max(1, len(reply.text) // 4))
    return reply.usage


def render(
    protocol: Protocol, behaviour: Behaviour, req: RecordedRequest, number: int, stream: bool
) -> tuple[list[bytes], str, str]:
    """The body pieces, content type and generation id of a 200 answer."""
    model = req.model or "loopback"
    if isinstance(behaviour, Reply):
        reply = behaviour
    elif isinstance(behaviour, Hang):
        reply = behaviour.then
    elif isinstance(behaviour, Truncate):
        reply = Reply(behaviour.text, chunks=max(3, behaviour.after_chunks + 2))
    elif isinstance(behaviour, Malformed | StreamError):
        reply = Reply("a good start, then trouble", chunks=max(3, behaviour.after_chunks + 2))
    else:
        raise TypeError(f"{type(behaviour).__name__} is not answered with a 200")
    gen_id = reply.generation_id or f"gen-{number}"
    usage = _usage_of(reply, req)
    shape = {"openai": _openai, "anthropic": _anthropic, "ollama": _ollama}[protocol]
    events, content_type = shape(reply, req, model, gen_id, usage, stream)
    if isinstance(behaviour, Malformed):
        bad = b"data: {not json\n\n" if content_type == "text/event-stream" else b"{not json\n"
        if not stream:
            return [bad], "application/json", gen_id
        events = events[: behaviour.after_chunks] + [bad]
    elif isinstance(behaviour, StreamError):
        events = events[: behaviour.after_chunks] + [_error_event(protocol, behaviour)]
    return events, content_type, gen_id


def _error_event(protocol: Protocol, error: StreamError) -> bytes:
    if protocol == "anthropic":
        data = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
        return f"event: error\ndata: {json.dumps(data)}\n\n".encode()
    if protocol == "ollama":
        return (json.dumps({"error": error.message}) + "\n").encode()
    data = {"error": {"message": error.message, "code": error.code, "type": error.error_type}}
    return f"data: {json.dumps(data)}\n\n".encode()


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data)}\n\n".encode()


def _openai_usage(usage: Usage, cost: float | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_write_tokens:
        data["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    if cost is not None:
        data["cost"] = cost
    return data


def _openai_call_deltas(calls: tuple[ToolCall, ...]) -> list[dict[str, Any]]:
    """Each call's head (id, name), then its arguments in three pieces, interleaved across calls."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        deltas.append({"tool_calls": [head]})
    pieces = [_split(call.arguments, 3) for call in calls]
    for step in range(max((len(p) for p in pieces), default=0)):
        for index, parts in enumerate(pieces):
            if step < len(parts):
                deltas.append({"tool_calls": [{"index": index, "function": {"arguments": parts[step]}}]})
    return deltas


def _openai(
    reply: Reply, req: RecordedRequest, model: str, gen_id: str, usage: Usage | None, stream: bool
) -> tuple[list[bytes], str]:
    created = int(req.time)
    usage_json = _openai_usage(usage, reply.cost) if usage is not None else None
    finish = reply.stop_reason("tool_calls")
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["content"] = reply.text or None
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.tool_calls
            ]
        data: dict[str, Any] = {
            "id": gen_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if usage_json is not None:
            data["usage"] = usage_json
        return [json.dumps(data).encode()], "application/json"
    wants_usage = bool(
        isinstance(req.json, dict) and (req.json.get("stream_options") or {}).get("include_usage")
    )
    base = {"id": gen_id, "object": "chat.completion.chunk", "created": created, "model": model}
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        for index, piece in enumerate(_split(reply.text, reply.chunks))
    ]
    deltas += _openai_call_deltas(reply.tool_calls)
    events = []
    for index, delta in enumerate(deltas):
        last = index == len(deltas) - 1
        chunk: dict[str, Any] = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish if last else None}],
        }
        if last and wants_usage and usage_json is not None and reply.usage_in_content_chunk:
            chunk["usage"] = usage_json
        events.append(_sse(chunk))
    if wants_usage and usage_json is not None and not reply.usage_in_content_chunk:
        events.append(_sse({**base, "choices": [], "usage": usage_json}))
    events.append(b"data: [DONE]\n\n")
    return events, "text/event-stream"


def _anthropic_tool_events(calls: tuple[ToolCall, ...], first: int) -> list[bytes]:
    events = []
    for index, call in enumerate(calls, start=first):
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        events.append(_sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start"))
        for piece in _split(call.arguments, 3):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(_sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"))
        events.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    return events


def _anthropic(
    reply: Reply, req: RecordedRequest, model: str, gen_id: str, usage: Usage | None, stream: bool
) -> tuple[list[bytes], str]:
    finish = reply.stop_reason("tool_use")
    stop = {"stop": "end_turn", "length": "max_tokens"}.get(finish, finish)
    u = usage or Usage()
    input_side = {
        "input_tokens": max(0, u.input_tokens - u.cached_input_tokens - u.cache_write_tokens),
        "cache_read_input_tokens": u.cached_input_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    }
    message: dict[str, Any] = {"id": gen_id, "type": "message", "role": "assistant", "model": model}
    with_text = bool(reply.text) or not reply.tool_calls
    if not stream:
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if with_text else []
        content += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments or "{}")}
            for c in reply.tool_calls
        ]
        body = {
            **message,
            "content": content,
            "stop_reason": stop,
            "usage": {**input_side, "output_tokens": u.output_tokens},
        }
        return [json.dumps(body).encode()], "application/json"
    events = [
        _sse(
            {
                "type": "message_start",
                "message": {**message, "content": [], "usage": {**input_side, "output_tokens": 1}},
            },
            "message_start",
        ),
    ]
    if with_text:
        events.append(
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            )
        )
    events.append(_sse({"type": "ping"}, "ping"))
    if with_text:
        for piece in _split(reply.text, reply.chunks):
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            events.append(_sse(delta, "content_block_delta"))
        events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    events += _anthropic_tool_events(reply.tool_calls, 1 if with_text else 0)
    events.append(
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": u.output_tokens},
            },
            "message_delta",
        )
    )
    events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events, "text/event-stream"


def _ollama(
    reply: Reply, req: RecordedRequest, model: str, gen_id: str, usage: Usage | None, stream: bool
) -> tuple[list[bytes], str]:
    created = dt.datetime.now(dt.UTC).isoformat()
    final: dict[str, Any] = {
        "model": model,
        "created_at": created,
        "done": True,
        "done_reason": reply.finish_reason,
    }
    if usage is not None:
        final.update(prompt_eval_count=usage.input_tokens, eval_count=usage.output_tokens)
    calls = [{"function": {"name": c.name, "arguments": json.loads(c.arguments or "{}")}} for c in reply.tool_calls]
    if not stream:
        final["message"] = {"role": "assistant", "content": reply.text}
        if calls:
            final["message"]["tool_calls"] = calls
        return [json.dumps(final).encode()], "application/json"
    pieces = _split(reply.text, reply.chunks)
    lines = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        if last and reply.usage_in_content_chunk:
            final["message"] = {"role": "assistant", "content": piece}
            break
        line = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }
        lines.append((json.dumps(line) + "\n").encode())
    if calls:  # Ollama sends each call whole, on a line of its own before the final one
        line = {"model": model, "created_at": created, "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": False}
        lines.append((json.dumps(line) + "\n").encode())
    final.setdefault("message", {"role": "assistant", "content": ""})
    lines.append((json.dumps(final) + "\n").encode())
    return lines, "application/x-ndjson"
