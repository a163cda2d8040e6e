"""The plumbing every HTTP backend shares: one POST, its timers, its failures, and reading the
answer whole or streamed (SSE or NDJSON) into one `Answer`, in the way httpx's transports or `llm`'s
key models share theirs.

A backend (`HTTPBackend` subclass) supplies only what differs by wire protocol: its URL, how the
key is sent, the request body, and how one streamed chunk or one whole answer is read (text,
tool calls, usage). Everything else lives here: the call clock (first byte, stall, total), HTTP
status and transport errors mapped to the error tree, chunks that are not JSON, truncation, and
reading a stream to its end so httpx can give the connection back to its pool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx

from server.backends.base import Completion, CompletionRequest, ToolCall, Usage
from server.backends.classify import error_for_status, error_for_transport
from server.backends.clock import CallClock
from server.backends.http_client import send_streaming
from server.backends.ratelimits import parse_rate_limits
from server.backends.sse import sse_events
from server.errors import BackendBadResponse

__all__ = ["Answer", "HTTPBackend", "int_or_zero"]

# After the last event, how long the rest of the body (the stream's terminator) may take to come;
# past it the connection is dropped instead of returned to the pool, and the answer still stands.
_DRAIN_S = 1.0
_URLS_KEPT = 256  # parsed endpoint URLs (and merged headers) kept per backend: a handful in practice
# The body as httpx's `json=` writes it, with one encoder for every call (the Content-Type
# header is ours).
_ENCODE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def int_or_zero(value: Any) -> int:
    """A token count from a provider's JSON: a non-negative int, 0 for anything else."""
    if type(value) is int:  # what JSON gives nearly always (and never a bool)
        return value if value > 0 else 0
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """What one call has received so far; a backend's readers fill it in."""

    request: CompletionRequest
    sent: dict[str, Any]  # the request body
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    cost: float | None = None  # the provider's own figure (OpenRouter)
    generation_id: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    done: bool = False  # the protocol's own end marker was seen
    extra: dict[str, object] = field(default_factory=dict)
    _calls: dict[int, _PartialCall] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.request.provider.name}/{self.request.model.model_name}"

    def bad(self, what: str) -> BackendBadResponse:
        """A retryable failure naming what the provider sent (and keeping any cost it reported)."""
        return BackendBadResponse(f"{self.where}: provider sent {what}", provider_cost=self.cost)

    def tool_call(self, key: int, *, call_id: str | None = None, name: str | None = None, arguments: str = "") -> None:
        """Add to the tool call at position `key` (streams send a call in pieces)."""
        call = self._calls.setdefault(key, _PartialCall())
        if call_id:
            call.id = call_id
        if name and not call.name:
            call.name = name
        if arguments:
            call.arguments.append(arguments)

    @property
    def calls_started(self) -> int:
        return len(self._calls)

    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id=call.id or f"call_{number}", name=call.name, arguments="".join(call.arguments) or "{}")
            for number, (_, call) in enumerate(sorted(self._calls.items()))
        )


class HTTPBackend:
    """One wire protocol over a shared `httpx.AsyncClient`; subclasses fill in the protocol."""

    framing: ClassVar[Literal["sse", "ndjson"]] = "sse"
    end_marker: ClassVar[str | None] = None  # a data line that ends a stream (OpenAI's "[DONE]")
    end_name: ClassVar[str] = "the end of the answer"  # for the truncation message
    local_server: ClassVar[bool] = False  # a 503 means busy (Ollama), whatever the manifest says

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._urls: dict[str, httpx.URL] = {}  # parsed once: httpx parses a text URL on every request
        # (provider, key, streamed) -> (the provider spec, the client's headers, both merged)
        self._merged: dict[tuple[str, str | None, bool], tuple[object, httpx.Headers, httpx.Headers]] = {}

    def _parsed_url(self, request: CompletionRequest) -> httpx.URL:
        text = self.url(request)
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= _URLS_KEPT:
                self._urls.clear()
            url = self._urls[text] = httpx.URL(text)
        return url

    # -- what each protocol supplies -------------------------------------------------------

    def url(self, request: CompletionRequest) -> str:
        raise NotImplementedError

    def body(self, request: CompletionRequest) -> dict[str, Any]:
        """The JSON body; may raise (e.g. ContextTooLarge) and then nothing is sent."""
        raise NotImplementedError

    def auth_headers(self, request: CompletionRequest) -> dict[str, str]:
        return {"Authorization": f"Bearer {request.api_key}"} if request.api_key else {}

    def read_chunk(self, answer: Answer, kind: str, data: dict[str, Any]) -> str:
        """Absorb one streamed chunk (`kind` is the SSE event name, "" for NDJSON); its text delta."""
        raise NotImplementedError

    def read_whole(self, answer: Answer, data: dict[str, Any]) -> None:
        """Absorb a whole (unstreamed) answer."""
        raise NotImplementedError

    def finish(self, answer: Answer) -> None:
        """Check a finished answer; the default refuses a stream cut before its end."""
        if not answer.done and answer.finish_reason is None:
            raise BackendBadResponse(
                f"{answer.where}: stream ended before {self.end_name} (truncated)", provider_cost=answer.cost
            )

    def reconcile_cost(self, request: CompletionRequest, generation_id: str) -> Awaitable[float | None] | None:
        """No later cost figure unless a protocol says otherwise (see `Backend.reconcile_cost`)."""
        return None

    # -- the shared call -------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one chat completion (see `Backend.complete` for the errors raised)."""
        answer = Answer(request, self.body(request))
        clock = CallClock(request)
        try:
            async with asyncio.timeout(None) as scope:
                clock.watch(scope)
                try:
                    response = await send_streaming(self._client, self._http_request(request, answer, clock))
                    try:
                        await self._read(answer, response, clock)
                        return self._completion(answer, clock, response)
                    finally:
                        await response.aclose()
                finally:
                    clock.stop()
        except TimeoutError:
            error = clock.timeout_error(answer.where)
            error.provider_cost = answer.cost
            raise error from None
        except httpx.HTTPError as exc:
            raise error_for_transport(
                exc,
                provider=request.provider.name,
                model=request.model.model_name,
                api_key=request.api_key,
                stall_timeout_s=request.stall_timeout_s,
            ) from None

    def _http_request(self, request: CompletionRequest, answer: Answer, clock: CallClock) -> httpx.Request:
        """The POST, as `client.build_request` makes it, with the parts that are the same on
        every call of a provider (URL, merged headers) made once (`build_request` re-parses and
        re-merges them each time: ~40 us a call here)."""
        client, url = self._client, self._parsed_url(request)
        body = _ENCODE_JSON(answer.sent).encode()
        timeout = clock.httpx_timeout()
        if client.cookies or client.params:  # cookies a provider set, or query parameters: httpx's own merge
            return client.build_request("POST", url, content=body, headers=self._headers(request), timeout=timeout)
        return httpx.Request("POST", url, content=body, headers=self._merged_headers(request),
                             extensions={"timeout": timeout.as_dict()})

    def _merged_headers(self, request: CompletionRequest) -> httpx.Headers:
        """The client's default headers with this provider's and its key's, as httpx merges them."""
        key = (request.provider.name, request.api_key, request.stream)
        kept = self._merged.get(key)
        if kept is not None and kept[0] is request.provider and kept[1] is self._client.headers:
            return kept[2]
        if len(self._merged) >= _URLS_KEPT:
            self._merged.clear()
        headers = httpx.Headers(self._client.headers)
        headers.update(self._headers(request))
        self._merged[key] = (request.provider, self._client.headers, headers)
        return headers

    def _headers(self, request: CompletionRequest) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if request.stream and self.framing == "sse":
            headers.update({"Accept": "text/event-stream", "Cache-Control": "no-store"})
        return {**headers, **request.provider.extra_headers, **self.auth_headers(request)}

    async def _read(self, answer: Answer, response: httpx.Response, clock: CallClock) -> None:
        request = answer.request
        if response.status_code >= 400:
            await response.aread()
            raise error_for_status(
                response.status_code,
                response.text,
                response.headers,
                provider=request.provider.name,
                model=request.model.model_name,
                api_key=request.api_key,
                local=request.provider.local or self.local_server,
            )
        # Some servers ignore `stream` and answer with plain JSON.
        sse = "text/event-stream" in response.headers.get("content-type", "")
        if request.stream and (sse or self.framing == "ndjson"):
            await self._read_stream(answer, response, clock)
        else:
            await response.aread()
            self.read_whole(answer, self._json(answer, response.content, "an answer body"))
            answer.done = True
            if answer.parts or answer.calls_started:
                clock.mark_token()
        self.finish(answer)

    async def _read_stream(self, answer: Answer, response: httpx.Response, clock: CallClock) -> None:
        on_chunk = answer.request.on_chunk
        async with aclosing(self._events(response)) as events:
            async for kind, data in events:
                clock.progress()
                text = data.strip()
                if not text:
                    continue
                if text == self.end_marker:
                    answer.done = True
                    break
                delta = self.read_chunk(answer, kind, self._json(answer, text, "a stream chunk"))
                if delta or answer.calls_started:
                    clock.mark_token()
                if delta:
                    answer.parts.append(delta)
                    if on_chunk is not None:
                        await on_chunk(delta)
                if answer.done:
                    break
            if answer.done:
                await self._drain(events)

    async def _drain(self, events: AsyncIterator[tuple[str, str]]) -> None:
        """Read the rest of a finished stream so the connection goes back to the pool."""
        try:
            async with asyncio.timeout(_DRAIN_S):
                async for _ in events:
                    pass
        except (TimeoutError, httpx.HTTPError):
            pass  # the answer is whole; only the connection is lost

    def _events(self, response: httpx.Response) -> AsyncGenerator[tuple[str, str], None]:
        return sse_events(response) if self.framing == "sse" else _ndjson_lines(response)

    def _json(self, answer: Answer, text: str | bytes, what: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError:
            raise answer.bad(f"{what} that is not JSON") from None
        if not isinstance(data, dict):
            raise answer.bad(f"{what} that is not a JSON object")
        return data

    def _completion(self, answer: Answer, clock: CallClock, response: httpx.Response) -> Completion:
        request = answer.request
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
            extra={"stream_complete": answer.done, **answer.extra},
            tool_calls=answer.tool_calls(),
        )


async def _ndjson_lines(response: httpx.Response) -> AsyncGenerator[tuple[str, str], None]:
    async for line in response.aiter_lines():
        yield "", line
