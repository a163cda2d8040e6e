"""The backend contract: one Protocol, and the request / completion records that cross it.

A backend speaks one wire protocol (OpenAI-compatible chat completions, Anthropic Messages,
Ollama's native chat) over a shared `httpx.AsyncClient`. It raises only `server.errors.BackendError`
subclasses; the scheduler decides what to do with them.

Messages are `ChatMessage` records or dicts of the same fields (`{"role", "content"}`, plus for
tool calling an assistant's `tool_calls` as `{"id", "name", "arguments"}` with the arguments as an
object or JSON text, and a tool result's `tool_call_id` / `name`: the agent loop's shape). Tools
are offered with `ToolSpec`s and come back as `ToolCall`s on the `Completion`, whatever the protocol.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from server.catalog.schema import ModelSpec, ProviderSpec

__all__ = [
    "Backend",
    "CallTimeouts",
    "ChatMessage",
    "ChunkCallback",
    "Completion",
    "CompletionRequest",
    "Message",
    "RateLimitInfo",
    "Role",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
    "Usage",
    "as_message",
    "tool_specs",
]

# Called with each streamed text delta (for progress and stall detection).
ChunkCallback = Callable[[str], Awaitable[None]]
Role = Literal["system", "user", "assistant", "tool"]
# "auto": the model decides; "required": it must call a tool; "none": it must not.
ToolChoice = Literal["auto", "required", "none"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


def tool_specs(specs: Iterable[ToolSpec | Mapping[str, Any]]) -> tuple[ToolSpec, ...]:
    """`ToolSpec`s from records or `{"name", "description", "parameters"}` dicts."""
    return tuple(
        spec
        if isinstance(spec, ToolSpec)
        else ToolSpec(
            str(spec["name"]),
            str(spec.get("description", "")),
            spec.get("parameters") or {"type": "object", "properties": {}},
        )
        for spec in specs
    )


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for. `arguments` is the JSON text of the arguments object,
    as the model wrote it (it may be invalid: `parsed_arguments` says so)."""

    id: str
    name: str
    arguments: str = "{}"

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict.

        Raises:
            ValueError: the model's arguments are not a JSON object.
        """
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError(f"arguments of {self.name} are not a JSON object")
        return value


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, tool calling included."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()  # assistant: the calls it made
    tool_call_id: str | None = None  # tool: the call this result answers
    name: str | None = None  # tool: the tool's name (Ollama wants it; found from the call if absent)
    is_error: bool = False  # tool: the result is an error (Anthropic marks it)


Message = ChatMessage | Mapping[str, Any]
_ROLES = ("system", "user", "assistant", "tool")


def as_message(message: Message) -> ChatMessage:
    """A `ChatMessage` from either form (see the module docstring for the dict shape)."""
    if isinstance(message, ChatMessage):
        return message
    role = message.get("role")
    calls = message.get("tool_calls") or ()
    call_id, name = message.get("tool_call_id"), message.get("name")
    return ChatMessage(
        role=role if role in _ROLES else "user",
        content=str(message.get("content") or ""),
        tool_calls=tuple(_tool_call(c, n) for n, c in enumerate(calls) if isinstance(c, Mapping)),
        tool_call_id=call_id if isinstance(call_id, str) else None,
        name=name if isinstance(name, str) else None,
        is_error=bool(message.get("is_error", False)),
    )


def _tool_call(raw: Mapping[str, Any], number: int) -> ToolCall:
    """`{"id", "name", "arguments"}`, or OpenAI's `{"id", "function": {"name", "arguments"}}`."""
    function = raw.get("function")
    source = function if isinstance(function, Mapping) else raw
    arguments = source.get("arguments")
    text = arguments if isinstance(arguments, str) else json.dumps(arguments if arguments is not None else {})
    return ToolCall(id=str(raw.get("id") or f"call_{number}"), name=str(source.get("name") or ""), arguments=text)


@dataclass(frozen=True)
class CallTimeouts:
    """How long one model call may take, by phase. Defaults for `Settings`; the scheduler narrows
    them to its task with `for_task` so a hung call leaves time to try another candidate.

    first_byte_s  from sending until the first streamed event (a plain answer has only a total)
    stall_s       the longest silence between two streamed events
    total_s       the whole call
    """

    first_byte_s: float = 30.0
    stall_s: float = 30.0
    total_s: float = 150.0
    task_share: float = 0.5  # a call may use at most this share of its task's timeout

    def for_task(
        self, task_timeout_s: float, time_left_s: float = math.inf, stall_cap_s: float = math.inf
    ) -> tuple[float, float, float]:
        """(first byte, stall, total) for one call of a task allowed `task_timeout_s` in all, with
        `time_left_s` of it left and silences capped at `stall_cap_s`: at most `task_share` of the
        task and never under 0.5 s in all. Plain floats: this runs once per call."""
        stall = min(self.stall_s, stall_cap_s)
        total = max(0.5, min(self.total_s, task_timeout_s * self.task_share, time_left_s))
        return min(self.first_byte_s, stall, total), min(stall, total), total


@dataclass
class CompletionRequest:
    """One call's request (not frozen, as nothing changes it: one is built per call, and a
    frozen dataclass sets each field through `object.__setattr__`, ten times a plain one)."""

    model: ModelSpec
    provider: ProviderSpec
    base_url: str
    api_key: str | None
    messages: Sequence[Message]  # ChatMessage, or {"role": "system"|"user"|"assistant"|"tool", "content": ...}
    max_tokens: int
    temperature: float = 0.2
    stream: bool = True
    timeout_s: float = 300.0  # whole call
    stall_timeout_s: float = 60.0  # longest silence allowed inside a stream
    first_byte_timeout_s: float | None = None  # until the first streamed event; None = stall_timeout_s
    context_tokens: int | None = None  # prompt + max_tokens, for servers whose window we set (Ollama)
    on_chunk: ChunkCallback | None = None
    tools: tuple[ToolSpec, ...] = ()  # `tool_specs(...)` makes them from dicts
    tool_choice: ToolChoice | None = None  # None = the provider's default ("auto" when tools are given)
    # The messages are a conversation that will be resent with more at its end (a tool loop is
    # one anyway): where a provider caches prompts only when asked (Anthropic), ask.
    cache_prefix: bool = False

    def with_timeouts(self, timeouts: CallTimeouts) -> CompletionRequest:
        """This request with the three call timeouts set from `timeouts`."""
        return dataclasses.replace(
            self,
            timeout_s=timeouts.total_s,
            stall_timeout_s=timeouts.stall_s,
            first_byte_timeout_s=timeouts.first_byte_s,
        )

    def chat(self) -> list[ChatMessage]:
        """The messages as `ChatMessage`s."""
        return [as_message(m) for m in self.messages]


@dataclass
class Usage:
    """Tokens of one call, OpenAI's convention whatever the provider: `input_tokens` counts every
    prompt token (cache reads and writes included), `output_tokens` every generated token
    (reasoning / thinking included). Backends normalise to this; pricing relies on it. Not
    frozen, as nothing changes it: see `CompletionRequest`."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0  # cache reads, priced at cache_read_per_mtok
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # already included in output_tokens on OpenAI-style APIs


@dataclass(frozen=True)
class RateLimitInfo:
    """What the provider's headers said about its limits (None = not sent)."""

    remaining_requests: float | None = None
    remaining_tokens: float | None = None
    reset_requests_s: float | None = None  # seconds until the request budget refills
    reset_tokens_s: float | None = None
    limit_requests: float | None = None
    limit_tokens: float | None = None
    retry_after_s: float | None = None
    requests_window_s: float = 60.0  # Groq counts its *-requests pair per day


@dataclass
class Completion:
    """One call's answer (not frozen, as nothing changes it: see `CompletionRequest`)."""

    text: str
    usage: Usage | None  # None = the provider reported none (cost falls back to our estimate)
    provider_cost: float | None = None  # the provider's own figure in USD (OpenRouter usage.cost)
    generation_id: str | None = None
    finish_reason: str | None = None
    latency_s: float = 0.0
    first_token_s: float | None = None
    rate_limits: RateLimitInfo | None = None
    raw_model: str | None = None  # the model name the provider says answered
    extra: dict[str, object] = field(default_factory=dict)
    tool_calls: tuple[ToolCall, ...] = ()  # the tools the model asked to call, in order


class Backend(Protocol):
    """One wire protocol. Implementations are stateless apart from the shared HTTP client."""

    async def complete(self, request: CompletionRequest) -> Completion:
        """Run one chat completion.

        Raises:
            BackendCallTimeout: no first event, a stall or the whole-call deadline (retry elsewhere).
            BackendTimeout, BackendRateLimited, BackendAuthError, BackendNotFound,
            BackendBadResponse, ContextTooLarge: classified failures (see server.errors).
        """
        ...

    def reconcile_cost(self, request: CompletionRequest, generation_id: str) -> Awaitable[float | None] | None:
        """For providers that settle a call's cost later (OpenRouter), an awaitable fetching the
        final figure in USD (None when not available); None when this provider has none."""
        ...
