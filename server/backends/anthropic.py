"""Anthropic's Messages API (`POST /v1/messages`), streamed (SSE) or plain JSON.

System messages are split out into the top-level `system` field. In a stream, usage arrives in
two parts: `message_start` carries the input side (including `cache_read_input_tokens` and
`cache_creation_input_tokens`), `message_delta` the cumulative `output_tokens`. An `error` event
(`overloaded_error`, `api_error`) is a retryable failure, `rate_limit_error` a rate limit.

Tool calling: tools go out as `{name, description, input_schema}`; an assistant's tool calls as
`tool_use` blocks and tool results as `tool_result` blocks of a user message (consecutive results
share one). A streamed `tool_use` block starts with its id and name and its input follows as
`input_json_delta` fragments, assembled per block index.
"""

from __future__ import annotations

import json
from typing import Any

from server.backends.base import CompletionRequest, Usage
from server.backends.classify import BackendBadRequest, attach_rate_limits, redact
from server.backends.exchange import Answer, HTTPBackend, int_or_zero
from server.errors import (
    BackendAuthError,
    BackendBadResponse,
    BackendError,
    BackendNotFound,
    BackendRateLimited,
    ContextTooLarge,
)

__all__ = ["ANTHROPIC_VERSION", "AnthropicBackend", "anthropic_messages", "cache_breakpoints", "usage_from_anthropic"]

ANTHROPIC_VERSION = "2023-06-01"
_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def usage_from_anthropic(raw: dict[str, Any], previous: Usage | None = None) -> Usage:
    """Map Anthropic usage to `Usage`; fields absent from `raw` keep their `previous` value.

    Anthropic's `input_tokens` excludes cache reads and writes; ours includes them (OpenAI's
    convention), so the three are added up here. Thinking tokens are inside `output_tokens`.
    """
    before = previous or Usage()
    fresh = int_or_zero(raw["input_tokens"]) if "input_tokens" in raw else None
    read = (
        int_or_zero(raw["cache_read_input_tokens"])
        if "cache_read_input_tokens" in raw
        else before.cached_input_tokens
    )
    write = (
        int_or_zero(raw["cache_creation_input_tokens"])
        if "cache_creation_input_tokens" in raw
        else before.cache_write_tokens
    )
    if fresh is None:
        fresh = before.input_tokens - before.cached_input_tokens - before.cache_write_tokens
    output = int_or_zero(raw["output_tokens"]) if "output_tokens" in raw else before.output_tokens
    return Usage(
        input_tokens=max(0, fresh) + read + write,
        output_tokens=output,
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


_EPHEMERAL = {"type": "ephemeral"}


def cache_breakpoints(system: str, messages: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """The system prompt and messages of a tool loop's turn (or a follow-up's) with prompt-cache breakpoints.

    Anthropic caches a request's prefix up to a block marked `cache_control` (tools, then system,
    then messages); a later request whose prefix is byte-identical reads it at a tenth of the input
    price (a write costs 1.25x; a prefix under the model's minimum, 1-4k tokens, is simply not
    cached). A tool loop appends to its conversation, so each turn marks the system prompt and the
    last block of its last two messages: the newest is the tail the next turn reads, the one
    before keeps an earlier write within the 20-block look-back. Every message is sent as a list
    of blocks, so a message's bytes do not change when it stops being one of the last two.
    """
    blocks = [_as_blocks(m) for m in messages]
    marked = 0
    for message in reversed(blocks):
        content = message["content"]
        if isinstance(content, list) and content and marked < 2:
            content[-1] = {**content[-1], "cache_control": _EPHEMERAL}
            marked += 1
    system_blocks: Any = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}] if system else ""
    return system_blocks, blocks


def _as_blocks(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    if isinstance(content, list):
        return {**message, "content": list(content)}
    return {**message, "content": [{"type": "text", "text": content}]} if content else dict(message)


def _tool_input(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {}


def anthropic_messages(request: CompletionRequest) -> tuple[str, list[dict[str, Any]]]:
    """(system text, messages) in the Messages API's shape."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for raw in request.chat():
        if raw.role == "system":
            system.append(raw.content)
        elif raw.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result", "tool_use_id": raw.tool_call_id or "", "content": raw.content,
            }
            if raw.is_error:
                block["is_error"] = True
            previous = messages[-1] if messages else None
            if previous is not None and previous["role"] == "user" and isinstance(previous["content"], list):
                previous["content"].append(block)
            else:
                messages.append({"role": "user", "content": [block]})
        elif raw.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": raw.content}] if raw.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)}
                for c in raw.tool_calls
            ]
            messages.append({"role": "assistant", "content": blocks})
        else:
            messages.append({"role": raw.role, "content": raw.content})
    return "\n\n".join(system), messages


class AnthropicBackend(HTTPBackend):
    """Claude models through the Messages API."""

    end_name = "message_stop"

    def url(self, request: CompletionRequest) -> str:
        base = request.base_url.rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def auth_headers(self, request: CompletionRequest) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if request.api_key:
            headers["x-api-key"] = request.api_key
        return headers

    def body(self, request: CompletionRequest) -> dict[str, Any]:
        system, messages = anthropic_messages(request)
        body: dict[str, Any] = {
            "model": request.model.model_name,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "temperature": request.temperature,
            "stream": request.stream,
        }
        if system:
            body["system"] = system
        if request.tools or request.cache_prefix:
            # A tool loop or a follow-up resends its whole conversation: cache its prefix.
            cached_system, body["messages"] = cache_breakpoints(system, messages)
            if system:
                body["system"] = cached_system
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
                for t in request.tools
            ]
        if request.tool_choice is not None:
            body["tool_choice"] = _TOOL_CHOICE[request.tool_choice]
        return body

    # -- reading ---------------------------------------------------------------------------

    def read_chunk(self, answer: Answer, kind: str, data: dict[str, Any]) -> str:
        kind = str(data.get("type") or kind)
        if kind == "error":
            raise self._error(answer, data.get("error"))
        if kind == "message_start":
            message = data.get("message") or {}
            if isinstance(message, dict):
                self._meta(answer, message)
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tool_use(answer, _index(data), block)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if not isinstance(delta, dict):
                return ""
            if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                answer.tool_call(_index(data), arguments=delta["partial_json"])
            elif delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return str(delta["text"])
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            if isinstance(delta, dict) and delta.get("stop_reason"):
                answer.finish_reason = str(delta["stop_reason"])
            if isinstance(data.get("usage"), dict):
                answer.usage = usage_from_anthropic(data["usage"], answer.usage)
        elif kind == "message_stop":
            answer.done = True
        return ""

    def read_whole(self, answer: Answer, data: dict[str, Any]) -> None:
        if data.get("type") == "error":
            raise self._error(answer, data.get("error"))
        content = data.get("content")
        if not isinstance(content, list):
            raise BackendBadResponse(f"{answer.where}: answer has no content list")
        self._meta(answer, data)
        if isinstance(data.get("stop_reason"), str):
            answer.finish_reason = data["stop_reason"]
        for index, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                answer.parts.append(block["text"])
            elif block.get("type") == "tool_use":
                self._tool_use(answer, index, block)

    def _meta(self, answer: Answer, message: dict[str, Any]) -> None:
        answer.generation_id = message.get("id") if isinstance(message.get("id"), str) else None
        answer.model = message.get("model") if isinstance(message.get("model"), str) else None
        if isinstance(message.get("usage"), dict):
            answer.usage = usage_from_anthropic(message["usage"])

    def _tool_use(self, answer: Answer, index: int, block: dict[str, Any]) -> None:
        given = block.get("input")
        answer.tool_call(
            index,
            call_id=block["id"] if isinstance(block.get("id"), str) else None,
            name=block["name"] if isinstance(block.get("name"), str) else None,
            arguments=json.dumps(given) if isinstance(given, dict) and given else "",
        )

    def _error(self, answer: Answer, error: Any) -> BackendError:
        """An `error` event in a stream (or a 200 body of type error), by its `error.type`."""
        where = answer.where
        kind = str(error.get("type", "")) if isinstance(error, dict) else ""
        message = error.get("message", "") if isinstance(error, dict) else str(error or "")
        text = redact(f"{kind or 'error'}: {message}"[:300], answer.request.api_key)
        result: BackendError
        if kind == "rate_limit_error":
            result = BackendRateLimited(f"{where}: rate limited: {text}")
        elif kind in ("authentication_error", "permission_error", "billing_error"):
            result = BackendAuthError(f"{where}: {text}")
        elif kind == "not_found_error":
            result = BackendNotFound(f"{where}: {text}")
        elif kind in ("invalid_request_error", "request_too_large"):
            if "too long" in message or "too large" in message or kind == "request_too_large":
                result = ContextTooLarge(f"{where}: {text}")
            else:
                result = BackendBadRequest(f"{where}: {text}")
        else:  # overloaded_error, api_error, timeout_error, anything new: retry
            result = BackendBadResponse(f"{where}: provider error mid-answer: {text}")
        return attach_rate_limits(result, None)


def _index(data: dict[str, Any]) -> int:
    index = data.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0
