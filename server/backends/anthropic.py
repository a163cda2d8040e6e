"""Anthropic's Messages API (`POST /v1/messages`), streamed (SSE) or plain JSON.

System messages are split out into the top-level `system` field. In a stream, usage arrives in
two parts: `message_start` carries the input side (including `cache_read_input_tokens` and
`cache_creation_input_tokens`), `message_delta` the cumulative `output_tokens`. An `error` event
(`overloaded_error`, `api_error`) is a retryable failure, `rate_limit_error` a rate limit.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from server.backends.base import Completion, CompletionRequest, Usage
from server.backends.classify import (
    BackendBadRequest,
    attach_rate_limits,
    error_for_status,
    error_for_transport,
    redact,
)
from server.backends.clock import CallClock
from server.backends.ratelimits import parse_rate_limits
from server.errors import (
    BackendAuthError,
    BackendBadResponse,
    BackendError,
    BackendNotFound,
    BackendRateLimited,
    ContextTooLarge,
)

__all__ = ["ANTHROPIC_VERSION", "AnthropicBackend", "usage_from_anthropic"]

ANTHROPIC_VERSION = "2023-06-01"


def _int(value: Any) -> int:
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def usage_from_anthropic(raw: dict[str, Any], previous: Usage | None = None) -> Usage:
    """Map Anthropic usage to `Usage`; fields absent from `raw` keep their `previous` value.

    Anthropic's `input_tokens` excludes cache reads and writes; ours includes them (OpenAI's
    convention), so the three are added up here. Thinking tokens are inside `output_tokens`.
    """
    before = previous or Usage()
    fresh = _int(raw["input_tokens"]) if "input_tokens" in raw else None
    read = (
        _int(raw["cache_read_input_tokens"])
        if "cache_read_input_tokens" in raw
        else before.cached_input_tokens
    )
    write = (
        _int(raw["cache_creation_input_tokens"])
        if "cache_creation_input_tokens" in raw
        else before.cache_write_tokens
    )
    if fresh is None:
        fresh = before.input_tokens - before.cached_input_tokens - before.cache_write_tokens
    output = _int(raw["output_tokens"]) if "output_tokens" in raw else before.output_tokens
    return Usage(
        input_tokens=max(0, fresh) + read + write,
        output_tokens=output,
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


@dataclass
class _Answer:
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    generation_id: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    done: bool = False


class AnthropicBackend:
    """Claude models through the Messages API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one message (see `Backend.complete` for the errors raised)."""
        clock = CallClock(request)
        where = f"{request.provider.name}/{request.model.model_name}"
        try:
            async with asyncio.timeout_at(clock.deadline(streaming=request.stream)) as scope:
                if request.stream:
                    return await self._streamed(request, clock, scope)
                return await self._plain(request, clock)
        except TimeoutError:
            raise clock.timeout_error(where) from None
        except httpx.HTTPError as exc:
            raise error_for_transport(
                exc,
                provider=request.provider.name,
                model=request.model.model_name,
                api_key=request.api_key,
                stall_timeout_s=request.stall_timeout_s,
            ) from None

    # -- request ---------------------------------------------------------------------------

    def _url(self, request: CompletionRequest) -> str:
        base = request.base_url.rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def _headers(self, request: CompletionRequest) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            **request.provider.extra_headers,
        }
        if request.api_key:
            headers["x-api-key"] = request.api_key
        return headers

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in request.messages if m.get("role") == "system")
        messages = [
            {"role": m["role"], "content": m["content"]}
            for m in request.messages
            if m.get("role") != "system"
        ]
        body: dict[str, Any] = {
            "model": request.model.model_name,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "temperature": request.temperature,
            "stream": request.stream,
        }
        if system:
            body["system"] = system
        return body

    # -- answers ---------------------------------------------------------------------------

    async def _plain(self, request: CompletionRequest, clock: CallClock) -> Completion:
        response = await self._client.post(
            self._url(request),
            json=self._body(request),
            headers=self._headers(request),
            timeout=clock.httpx_timeout(streaming=False),
        )
        self._raise_for_status(request, response)
        return self._from_json(request, response, clock)

    async def _streamed(
        self, request: CompletionRequest, clock: CallClock, scope: asyncio.Timeout
    ) -> Completion:
        where = f"{request.provider.name}/{request.model.model_name}"
        async with aconnect_sse(
            self._client,
            "POST",
            self._url(request),
            json=self._body(request),
            headers=self._headers(request),
            timeout=clock.httpx_timeout(streaming=True),
        ) as source:
            response = source.response
            if response.status_code >= 400:
                await response.aread()
                self._raise_for_status(request, response)
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()
                return self._from_json(request, response, clock)
            answer = _Answer()
            async for event in source.aiter_sse():
                scope.reschedule(clock.deadline())
                if not event.data.strip():
                    continue
                try:
                    data = json.loads(event.data)
                except ValueError:
                    raise BackendBadResponse(
                        f"{where}: provider sent a stream event that is not JSON"
                    ) from None
                if not isinstance(data, dict):
                    raise BackendBadResponse(
                        f"{where}: provider sent a stream event that is not a JSON object"
                    )
                kind = data.get("type") or event.event
                if kind == "error":
                    raise self._event_error(request, data.get("error"))
                await self._absorb(request, answer, kind, data, clock)
                if answer.done:
                    break
            if not answer.done and answer.finish_reason is None:
                raise BackendBadResponse(f"{where}: stream ended before message_stop (truncated)")
            return self._completion(request, answer, clock, response)

    async def _absorb(
        self, request: CompletionRequest, answer: _Answer, kind: str, data: dict[str, Any], clock: CallClock
    ) -> None:
        if kind == "message_start":
            message = data.get("message") or {}
            if isinstance(message, dict):
                answer.generation_id = message.get("id") if isinstance(message.get("id"), str) else None
                answer.model = message.get("model") if isinstance(message.get("model"), str) else None
                if isinstance(message.get("usage"), dict):
                    answer.usage = usage_from_anthropic(message["usage"])
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            text = (
                delta.get("text") if isinstance(delta, dict) and delta.get("type") == "text_delta" else None
            )
            if isinstance(text, str) and text:
                clock.mark_token()
                answer.parts.append(text)
                if request.on_chunk is not None:
                    await request.on_chunk(text)
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            if isinstance(delta, dict) and delta.get("stop_reason"):
                answer.finish_reason = str(delta["stop_reason"])
            if isinstance(data.get("usage"), dict):
                answer.usage = usage_from_anthropic(data["usage"], answer.usage)
        elif kind == "message_stop":
            answer.done = True

    def _from_json(
        self, request: CompletionRequest, response: httpx.Response, clock: CallClock
    ) -> Completion:
        where = f"{request.provider.name}/{request.model.model_name}"
        try:
            data = json.loads(response.content)
        except ValueError:
            raise BackendBadResponse(f"{where}: answer body is not JSON") from None
        if not isinstance(data, dict):
            raise BackendBadResponse(f"{where}: answer body is not a JSON object")
        if data.get("type") == "error":
            raise self._event_error(request, data.get("error"))
        content = data.get("content")
        if not isinstance(content, list):
            raise BackendBadResponse(f"{where}: answer has no content list")
        answer = _Answer(
            parts=[
                block["text"]
                for block in content
                if isinstance(block, dict)
                and block.get("type") == "text"
                and isinstance(block.get("text"), str)
            ],
            usage=usage_from_anthropic(data["usage"]) if isinstance(data.get("usage"), dict) else None,
            generation_id=data.get("id") if isinstance(data.get("id"), str) else None,
            finish_reason=data.get("stop_reason") if isinstance(data.get("stop_reason"), str) else None,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            done=True,
        )
        if answer.parts:
            clock.mark_token()
        return self._completion(request, answer, clock, response)

    def _completion(
        self, request: CompletionRequest, answer: _Answer, clock: CallClock, response: httpx.Response
    ) -> Completion:
        return Completion(
            text="".join(answer.parts),
            usage=answer.usage,
            generation_id=answer.generation_id,
            finish_reason=answer.finish_reason,
            latency_s=clock.elapsed(),
            first_token_s=clock.first_token_s,
            rate_limits=parse_rate_limits(response.headers, provider=request.provider.name),
            raw_model=answer.model,
            extra={"stream_complete": answer.done},
        )

    # -- failures --------------------------------------------------------------------------

    def _raise_for_status(self, request: CompletionRequest, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        raise error_for_status(
            response.status_code,
            response.text,
            response.headers,
            provider=request.provider.name,
            model=request.model.model_name,
            api_key=request.api_key,
            local=request.provider.local,
        )

    def _event_error(self, request: CompletionRequest, error: Any) -> BackendError:
        """An `error` event in a stream (or a 200 body of type error), by its `error.type`."""
        where = f"{request.provider.name}/{request.model.model_name}"
        kind = str(error.get("type", "")) if isinstance(error, dict) else ""
        message = error.get("message", "") if isinstance(error, dict) else str(error or "")
        text = redact(f"{kind or 'error'}: {message}"[:300], request.api_key)
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
