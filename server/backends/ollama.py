"""Ollama's native chat API (`POST /api/chat`), streamed as NDJSON (one JSON object a line).

Why not Ollama's OpenAI-compatible `/v1`: it ignores `num_ctx`, so a prompt longer than the
model's default window (4096 tokens) is silently truncated. Here the window is raised to what
the call needs (`request.context_tokens`, rounded up to a power of two so Ollama does not reload
the model for every size) and a prompt that cannot fit the model at all is refused before it is
sent. Usage comes from `prompt_eval_count` / `eval_count` on the final (`done`) line; a 503 means
the server is busy (its queue is full), not broken.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from server.backends.base import Completion, CompletionRequest, Usage
from server.backends.classify import error_for_status, error_for_transport, redact
from server.backends.clock import CallClock
from server.backends.ratelimits import parse_rate_limits
from server.errors import BackendBadResponse, BackendError, BackendNotFound, ContextTooLarge

__all__ = ["OLLAMA_DEFAULT_CONTEXT", "OllamaBackend", "context_size", "ollama_root"]

OLLAMA_DEFAULT_CONTEXT = 4096


def ollama_root(base_url: str) -> str:
    """The server root from a base URL that may end in `/v1` (OpenAI-style) or `/api`."""
    root = base_url.rstrip("/")
    for suffix in ("/v1", "/api"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return root


def context_size(request: CompletionRequest) -> int:
    """The `num_ctx` to ask for: enough for prompt + output, at least Ollama's default.

    Raises:
        ContextTooLarge: the call needs more than the model's context window.
    """
    needed = request.context_tokens
    if needed is None:  # no count given: a generous character estimate
        needed = sum(len(m.get("content", "")) for m in request.messages) // 3 + request.max_tokens
    window = request.model.context_window
    if needed > window:
        raise ContextTooLarge(
            f"{request.provider.name}/{request.model.model_name}: needs {needed} tokens of context, "
            f"the model holds {window}; not sent"
        )
    size = OLLAMA_DEFAULT_CONTEXT
    while size < needed:
        size *= 2
    return min(size, window) if window >= OLLAMA_DEFAULT_CONTEXT else window


def _int(value: Any) -> int:
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0


class OllamaBackend:
    """Local models through Ollama's native API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one chat (see `Backend.complete` for the errors raised)."""
        body = self._body(request)  # may raise ContextTooLarge: nothing is sent then
        clock = CallClock(request)
        where = f"{request.provider.name}/{request.model.model_name}"
        try:
            async with asyncio.timeout_at(clock.deadline(streaming=request.stream)) as scope:
                return await self._call(request, body, clock, scope)
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

    def _body(self, request: CompletionRequest) -> dict[str, Any]:
        return {
            "model": request.model.model_name,
            "messages": request.messages,
            "stream": request.stream,
            "options": {
                "num_ctx": context_size(request),
                "num_predict": request.max_tokens,
                "temperature": request.temperature,
            },
        }

    def _headers(self, request: CompletionRequest) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **request.provider.extra_headers}
        if request.api_key:  # a proxy in front of Ollama may want one
            headers["Authorization"] = f"Bearer {request.api_key}"
        return headers

    async def _call(
        self, request: CompletionRequest, body: dict[str, Any], clock: CallClock, scope: asyncio.Timeout
    ) -> Completion:
        where = f"{request.provider.name}/{request.model.model_name}"
        parts: list[str] = []
        final: dict[str, Any] | None = None
        model_name: str | None = None
        async with self._client.stream(
            "POST",
            ollama_root(request.base_url) + "/api/chat",
            json=body,
            headers=self._headers(request),
            timeout=clock.httpx_timeout(streaming=request.stream),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_for_status(
                    response.status_code,
                    response.text,
                    response.headers,
                    provider=request.provider.name,
                    model=request.model.model_name,
                    api_key=request.api_key,
                    local=True,
                )
            async for line in response.aiter_lines():
                if request.stream:
                    scope.reschedule(clock.deadline())
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    raise BackendBadResponse(f"{where}: provider sent a line that is not JSON") from None
                if not isinstance(data, dict):
                    raise BackendBadResponse(f"{where}: provider sent a line that is not a JSON object")
                if data.get("error"):
                    raise self._line_error(request, data["error"])
                model_name = model_name or (data.get("model") if isinstance(data.get("model"), str) else None)
                message = data.get("message") or {}
                content = message.get("content") if isinstance(message, dict) else None
                if isinstance(content, str) and content:
                    clock.mark_token()
                    parts.append(content)
                    if request.on_chunk is not None:
                        await request.on_chunk(content)
                if data.get("done") is True:
                    final = data
                    break
            if final is None:
                raise BackendBadResponse(f"{where}: answer ended before `done` (truncated)")
            usage = None
            if "prompt_eval_count" in final or "eval_count" in final:
                usage = Usage(
                    input_tokens=_int(final.get("prompt_eval_count")),
                    output_tokens=_int(final.get("eval_count")),
                )
            reason = final.get("done_reason")
            return Completion(
                text="".join(parts),
                usage=usage,
                finish_reason=reason if isinstance(reason, str) else None,
                latency_s=clock.elapsed(),
                first_token_s=clock.first_token_s,
                rate_limits=parse_rate_limits(response.headers, provider=request.provider.name),
                raw_model=model_name,
                extra={"num_ctx": body["options"]["num_ctx"], "stream_complete": True},
            )

    def _line_error(self, request: CompletionRequest, error: Any) -> BackendError:
        where = f"{request.provider.name}/{request.model.model_name}"
        text = redact(str(error)[:300], request.api_key)
        if "not found" in text:
            return BackendNotFound(f"{where}: {text}")
        return BackendBadResponse(f"{where}: provider error mid-answer: {text}")
