"""OpenAI-compatible chat completions: OpenRouter, Groq, Cerebras, OpenAI, Gemini's OpenAI
endpoint, DeepSeek, Ollama's /v1, LM Studio, vLLM, llama.cpp.

Streams are read with `httpx-sse`, always asking for usage (`stream_options.include_usage`).
Usage is taken from whichever chunk carries it, including a final chunk that also carries the
last content delta (the shape LiteLLM drops, BerriAI/litellm#40404). A stream that ends before
`[DONE]` or a finish reason, stalls, or sends a chunk that is not JSON is a retryable failure.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from server.backends.base import Completion, CompletionRequest, Usage
from server.backends.classify import attach_rate_limits, error_for_status, error_for_transport, redact
from server.backends.clock import CallClock
from server.backends.ratelimits import parse_rate_limits
from server.errors import BackendBadResponse, BackendError, BackendRateLimited

__all__ = ["OpenAICompatBackend", "usage_from_openai"]


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(0, int(value))
    return 0


def usage_from_openai(raw: dict[str, Any]) -> Usage:
    """Map an OpenAI-style `usage` object (with the common vendor variants) to `Usage`.

    `input_tokens` includes cached tokens and `output_tokens` includes reasoning tokens, as
    OpenAI reports them. Gemini's endpoint leaves reasoning out of `completion_tokens` (its
    `total_tokens` shows it); it is added back so reasoning is always billed as output once.
    """
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    cached = _int(prompt_details.get("cached_tokens")) or _int(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    cache_write = _int(prompt_details.get("cache_write_tokens"))  # OpenRouter, for Anthropic models
    reasoning = _int(completion_details.get("reasoning_tokens"))
    total = _int(raw.get("total_tokens"))
    if reasoning and total == prompt + completion + reasoning:
        completion += reasoning
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=min(cached, prompt),
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


def _cost(raw: dict[str, Any]) -> float | None:
    value = raw.get("cost")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


@dataclass
class _Answer:
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    cost: float | None = None
    generation_id: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    done: bool = False

    def absorb_meta(self, chunk: dict[str, Any]) -> None:
        if self.generation_id is None and isinstance(chunk.get("id"), str):
            self.generation_id = chunk["id"]
        if self.model is None and isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        raw_usage = chunk.get("usage")
        if not isinstance(raw_usage, dict):
            x_groq = chunk.get("x_groq")
            raw_usage = x_groq.get("usage") if isinstance(x_groq, dict) else None
        if isinstance(raw_usage, dict):
            self.usage = usage_from_openai(raw_usage)
            self.cost = _cost(raw_usage) if _cost(raw_usage) is not None else self.cost


class OpenAICompatBackend:
    """`POST {base_url}/chat/completions`, streamed (SSE) or plain JSON."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one chat completion (see `Backend.complete` for the errors raised)."""
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
        return request.base_url.rstrip("/") + "/chat/completions"

    def _headers(self, request: CompletionRequest) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **request.provider.extra_headers}
        if request.api_key:
            headers["Authorization"] = f"Bearer {request.api_key}"
        return headers

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model.model_name,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": request.stream,
        }
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        if request.provider.reports_cost:
            body["usage"] = {"include": True}  # OpenRouter: put `cost` in usage
        if request.model.reasoning and request.provider.name == "openai":
            # o-series models refuse `max_tokens` and any temperature but the default.
            body["max_completion_tokens"] = body.pop("max_tokens")
            body.pop("temperature")
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
                # Some servers ignore `stream` and answer with plain JSON.
                await response.aread()
                return self._from_json(request, response, clock)
            answer = _Answer()
            async for event in source.aiter_sse():
                scope.reschedule(clock.deadline())
                data = event.data.strip()
                if not data:
                    continue
                if data == "[DONE]":
                    answer.done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise self._malformed(request, answer, "a stream chunk that is not JSON") from None
                if not isinstance(chunk, dict):
                    raise self._malformed(request, answer, "a stream chunk that is not a JSON object")
                if chunk.get("error"):
                    raise self._stream_error(request, chunk["error"], answer)
                await self._absorb_chunk(request, answer, chunk, clock)
            if not answer.done and answer.finish_reason is None:
                raise BackendBadResponse(
                    f"{where}: stream ended before [DONE] or a finish reason (truncated)",
                    provider_cost=answer.cost,
                )
            if answer.finish_reason == "error":
                raise BackendBadResponse(
                    f"{where}: provider ended the stream with an error", provider_cost=answer.cost
                )
            return Completion(
                text="".join(answer.parts),
                usage=answer.usage,
                provider_cost=answer.cost,
                generation_id=answer.generation_id,
                finish_reason=answer.finish_reason,
                latency_s=clock.elapsed(),
                first_token_s=clock.first_token_s,
                rate_limits=parse_rate_limits(response.headers, provider=request.provider.name),
                raw_model=answer.model,
                extra={"stream_complete": answer.done},
            )

    async def _absorb_chunk(
        self, request: CompletionRequest, answer: _Answer, chunk: dict[str, Any], clock: CallClock
    ) -> None:
        answer.absorb_meta(chunk)
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return  # the usage-only chunk, or a keep-alive
        choice = choices[0]
        if not isinstance(choice, dict):
            raise self._malformed(request, answer, "a choice that is not a JSON object")
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            clock.mark_token()
            answer.parts.append(content)
            if request.on_chunk is not None:
                await request.on_chunk(content)
        if choice.get("finish_reason"):
            answer.finish_reason = str(choice["finish_reason"])

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
        answer = _Answer()
        if data.get("error"):
            raise self._stream_error(request, data["error"], answer)
        answer.absorb_meta(data)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BackendBadResponse(f"{where}: answer has no choices", provider_cost=answer.cost)
        message = choices[0].get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        text = content if isinstance(content, str) else ""
        return Completion(
            text=text,
            usage=answer.usage,
            provider_cost=answer.cost,
            generation_id=answer.generation_id,
            finish_reason=choices[0].get("finish_reason"),
            latency_s=clock.elapsed(),
            first_token_s=clock.elapsed() if text else None,
            rate_limits=parse_rate_limits(response.headers, provider=request.provider.name),
            raw_model=answer.model,
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

    def _malformed(self, request: CompletionRequest, answer: _Answer, what: str) -> BackendBadResponse:
        where = f"{request.provider.name}/{request.model.model_name}"
        return BackendBadResponse(f"{where}: provider sent {what}", provider_cost=answer.cost)

    def _stream_error(self, request: CompletionRequest, error: Any, answer: _Answer) -> BackendError:
        """An error object sent inside a 200 answer or a stream (OpenRouter does this)."""
        where = f"{request.provider.name}/{request.model.model_name}"
        message = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        text = redact(str(message or "unknown error")[:300], request.api_key)
        if code in (429, "429", "rate_limit_exceeded"):
            return attach_rate_limits(
                BackendRateLimited(f"{where}: rate limited mid-stream: {text}", provider_cost=answer.cost),
                None,
            )
        return BackendBadResponse(f"{where}: provider error mid-answer: {text}", provider_cost=answer.cost)
