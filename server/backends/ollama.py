"""Ollama's native chat API (`POST /api/chat`), streamed as NDJSON (one JSON object a line).

Why not Ollama's OpenAI-compatible `/v1`: it ignores `num_ctx`, so a prompt longer than the
model's default window (4096 tokens) is silently truncated. Here the window is raised to what
the call needs (`request.context_tokens`, rounded up to a power of two so Ollama does not reload
the model for every size) and a prompt that cannot fit the model at all is refused before it is
sent. Usage comes from `prompt_eval_count` / `eval_count` on the final (`done`) line; a 503 means
the server is busy (its queue is full), not broken.

Tool calling uses Ollama's own shape: tools as OpenAI's `{"type": "function", ...}`, calls come
back whole (arguments as an object, no id: one is made up) in `message.tool_calls`, and a tool
result is a `tool` message naming the tool. `tool_choice` has no equivalent: "none" sends no tools.
"""

from __future__ import annotations

import json
from typing import Any

from server.backends.base import CompletionRequest, Usage
from server.backends.classify import redact
from server.backends.exchange import Answer, HTTPBackend, int_or_zero
from server.backends.openai_compat import openai_tools
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
        needed = sum(len(m.content) for m in request.chat()) // 3 + request.max_tokens
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


def _wire_messages(request: CompletionRequest) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool call id -> tool name, for results that do not say
    wire: list[dict[str, Any]] = []
    for message in request.chat():
        if message.role == "tool":
            name = message.name or names.get(message.tool_call_id or "", "")
            wire.append({"role": "tool", "content": message.content, "tool_name": name})
        else:
            entry: dict[str, Any] = {"role": message.role, "content": message.content}
            if message.tool_calls:
                names.update((c.id, c.name) for c in message.tool_calls)
                entry["tool_calls"] = [
                    {"function": {"name": c.name, "arguments": _object(c.arguments)}} for c in message.tool_calls
                ]
            wire.append(entry)
    return wire


def _object(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {}


class OllamaBackend(HTTPBackend):
    """Local models through Ollama's native API."""

    framing = "ndjson"
    end_name = "`done`"
    local_server = True

    def url(self, request: CompletionRequest) -> str:
        return ollama_root(request.base_url) + "/api/chat"

    def body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model.model_name,
            "messages": _wire_messages(request),
            "stream": request.stream,
            "options": {
                "num_ctx": context_size(request),
                "num_predict": request.max_tokens,
                "temperature": request.temperature,
            },
        }
        if request.tools and request.tool_choice != "none":
            body["tools"] = openai_tools(request.tools)
        return body

    # -- reading ---------------------------------------------------------------------------

    def read_chunk(self, answer: Answer, kind: str, data: dict[str, Any]) -> str:
        if data.get("error"):
            raise self._error(answer, data["error"])
        if answer.model is None and isinstance(data.get("model"), str):
            answer.model = data["model"]
        message = data.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                given = function.get("arguments")
                answer.tool_call(
                    answer.calls_started,
                    call_id=call["id"] if isinstance(call.get("id"), str) else None,
                    name=function["name"],
                    arguments=given if isinstance(given, str) else json.dumps(given or {}),
                )
        if data.get("done") is True:
            answer.done = True
            reason = data.get("done_reason")
            answer.finish_reason = reason if isinstance(reason, str) else None
            if "prompt_eval_count" in data or "eval_count" in data:
                answer.usage = Usage(
                    input_tokens=int_or_zero(data.get("prompt_eval_count")),
                    output_tokens=int_or_zero(data.get("eval_count")),
                )
        return content if isinstance(content, str) else ""

    def read_whole(self, answer: Answer, data: dict[str, Any]) -> None:
        text = self.read_chunk(answer, "", data)
        if text:
            answer.parts.append(text)
        if not answer.done:
            raise BackendBadResponse(f"{answer.where}: answer ended before `done` (truncated)")

    def finish(self, answer: Answer) -> None:
        super().finish(answer)
        answer.extra["num_ctx"] = answer.sent["options"]["num_ctx"]

    def _error(self, answer: Answer, error: Any) -> BackendError:
        text = redact(str(error)[:300], answer.request.api_key)
        if "not found" in text:
            return BackendNotFound(f"{answer.where}: {text}")
        return BackendBadResponse(f"{answer.where}: provider error mid-answer: {text}")
