"""OpenAI-compatible chat completions: OpenRouter, Groq, Cerebras, OpenAI, Gemini's OpenAI
endpoint, DeepSeek, Ollama's /v1, LM Studio, vLLM, llama.cpp.

Streams always ask for usage (`stream_options.include_usage`). Usage is taken from whichever chunk
carries it, including a final chunk that also carries the last content delta (the shape LiteLLM
drops, BerriAI/litellm#40404). Tool calls arrive as `delta.tool_calls` pieces keyed by `index`
(id and name first, then the arguments' JSON in fragments) and are assembled in order. A stream
that ends before `[DONE]` or a finish reason is a retryable failure.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

from server.backends.base import ChatMessage, CompletionRequest, Message, ToolSpec, Usage, as_message
from server.backends.classify import attach_rate_limits, redact
from server.backends.exchange import Answer, HTTPBackend, int_or_zero
from server.backends.pricing import fetch_openrouter_generation_cost
from server.errors import BackendBadResponse, BackendError, BackendRateLimited

__all__ = ["OpenAICompatBackend", "openai_tools", "usage_from_openai"]


def usage_from_openai(raw: dict[str, Any]) -> Usage:
    """Map an OpenAI-style `usage` object (with the common vendor variants) to `Usage`.

    `input_tokens` includes cached tokens and `output_tokens` includes reasoning tokens, as
    OpenAI reports them. Gemini's endpoint leaves reasoning out of `completion_tokens` (its
    `total_tokens` shows it); it is added back so reasoning is always billed as output once.
    """
    prompt = int_or_zero(raw.get("prompt_tokens"))
    completion = int_or_zero(raw.get("completion_tokens"))
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    cached = int_or_zero(prompt_details.get("cached_tokens")) or int_or_zero(
        raw.get("prompt_cache_hit_tokens")  # DeepSeek
    )
    cache_write = int_or_zero(prompt_details.get("cache_write_tokens"))  # OpenRouter, for Anthropic models
    reasoning = int_or_zero(completion_details.get("reasoning_tokens"))
    total = int_or_zero(raw.get("total_tokens"))
    if reasoning and total == prompt + completion + reasoning:
        completion += reasoning
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=min(cached, prompt),
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
    )


def openai_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    """Tools in the `{"type": "function", "function": {...}}` shape (Ollama's native API too)."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]


def _wire_message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wire


def _plain(message: Message) -> dict[str, Any] | None:
    """A plain text message given as a dict goes out as it is (the common case, no conversion)."""
    if (type(message) is dict and len(message) == 2 and message.get("role") in ("system", "user", "assistant")
            and type(message.get("content")) is str):
        return {"role": message["role"], "content": message["content"]}
    return None


def _cost(raw: dict[str, Any]) -> float | None:
    value = raw.get("cost")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _arguments(value: Any) -> str:
    """Arguments as JSON text (a few servers send an object instead of a string)."""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict) else ""


class OpenAICompatBackend(HTTPBackend):
    """`POST {base_url}/chat/completions`, streamed (SSE) or plain JSON."""

    end_marker = "[DONE]"
    end_name = "[DONE] or a finish reason"

    def url(self, request: CompletionRequest) -> str:
        return request.base_url.rstrip("/") + "/chat/completions"

    def body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model.model_name,
            "messages": [_plain(m) or _wire_message(as_message(m)) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": request.stream,
        }
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = openai_tools(request.tools)
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        if request.provider.reports_cost:
            body["usage"] = {"include": True}  # OpenRouter: put `cost` in usage
        if request.model.reasoning and request.provider.name == "openai":
            # o-series models refuse `max_tokens` and any temperature but the default.
            body["max_completion_tokens"] = body.pop("max_tokens")
            body.pop("temperature")
        return body

    def reconcile_cost(self, request: CompletionRequest, generation_id: str) -> Awaitable[float | None] | None:
        """OpenRouter settles a generation's cost afterwards: fetch that figure."""
        if not request.provider.reports_cost:
            return None
        return fetch_openrouter_generation_cost(self._client, request.base_url, request.api_key, generation_id)

    # -- reading ---------------------------------------------------------------------------

    def read_chunk(self, answer: Answer, kind: str, data: dict[str, Any]) -> str:
        if data.get("error"):
            raise self._error(answer, data["error"])
        self._meta(answer, data)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return ""  # the usage-only chunk, or a keep-alive
        choice = choices[0]
        if not isinstance(choice, dict):
            raise answer.bad("a choice that is not a JSON object")
        if choice.get("finish_reason"):
            answer.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            return ""
        calls = delta.get("tool_calls")
        for position, piece in enumerate(calls if isinstance(calls, list) else []):
            if isinstance(piece, dict):
                self._call_piece(answer, piece, position)
        content = delta.get("content")
        return content if isinstance(content, str) else ""

    def read_whole(self, answer: Answer, data: dict[str, Any]) -> None:
        if data.get("error"):
            raise self._error(answer, data["error"])
        self._meta(answer, data)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BackendBadResponse(f"{answer.where}: answer has no choices", provider_cost=answer.cost)
        reason = choices[0].get("finish_reason")
        answer.finish_reason = reason if isinstance(reason, str) else None
        message = choices[0].get("message") or {}
        if not isinstance(message, dict):
            return
        content = message.get("content")
        if isinstance(content, str) and content:
            answer.parts.append(content)
        calls = message.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if isinstance(call, dict):
                self._call_piece(answer, call, position)

    def finish(self, answer: Answer) -> None:
        super().finish(answer)
        if answer.finish_reason == "error":
            raise BackendBadResponse(
                f"{answer.where}: provider ended the stream with an error", provider_cost=answer.cost
            )

    def _call_piece(self, answer: Answer, piece: dict[str, Any], position: int) -> None:
        index = piece.get("index")
        key = index if isinstance(index, int) and not isinstance(index, bool) else position
        function = piece.get("function") or {}
        if not isinstance(function, dict):
            return
        name = function.get("name")
        answer.tool_call(
            key,
            call_id=piece["id"] if isinstance(piece.get("id"), str) else None,
            name=name if isinstance(name, str) else None,
            arguments=_arguments(function.get("arguments")),
        )

    def _meta(self, answer: Answer, chunk: dict[str, Any]) -> None:
        if answer.generation_id is None and isinstance(chunk.get("id"), str):
            answer.generation_id = chunk["id"]
        if answer.model is None and isinstance(chunk.get("model"), str):
            answer.model = chunk["model"]
        raw_usage = chunk.get("usage")
        if not isinstance(raw_usage, dict):
            x_groq = chunk.get("x_groq")
            raw_usage = x_groq.get("usage") if isinstance(x_groq, dict) else None
        if isinstance(raw_usage, dict):
            answer.usage = usage_from_openai(raw_usage)
            cost = _cost(raw_usage)
            answer.cost = cost if cost is not None else answer.cost

    def _error(self, answer: Answer, error: Any) -> BackendError:
        """An error object sent inside a 200 answer or a stream (OpenRouter does this)."""
        message = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        text = redact(str(message or "unknown error")[:300], answer.request.api_key)
        if code in (429, "429", "rate_limit_exceeded"):
            return attach_rate_limits(
                BackendRateLimited(f"{answer.where}: rate limited mid-stream: {text}", provider_cost=answer.cost),
                None,
            )
        return BackendBadResponse(f"{answer.where}: provider error mid-answer: {text}", provider_cost=answer.cost)
