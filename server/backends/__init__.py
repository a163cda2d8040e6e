"""Model backends: one module per wire protocol behind the `Backend` Protocol (see `base`).

base           the contract: Backend, CompletionRequest, Completion, Usage, RateLimitInfo,
               ChatMessage / ToolSpec / ToolCall (tool calling), CallTimeouts
exchange       HTTPBackend: the POST, timers, error mapping and stream reading every protocol shares
clock          one call's first-byte, stall and total deadlines
openai_compat  OpenAI-compatible chat completions (OpenRouter, Groq, Cerebras, OpenAI, ...)
anthropic      Anthropic Messages
ollama         Ollama's native chat (raises the context window instead of truncating)
classify       HTTP status / transport failure -> server.errors class; key redaction
ratelimits     provider rate-limit headers -> RateLimitInfo
pricing        what a call cost and where the figure came from
registry       protocol -> backend (BACKENDS: the one list of protocols), provider resolution,
               availability, local probes

A new wire protocol is one module (an `HTTPBackend` subclass: URL, body, chunk and whole-answer
readers) and one line in `registry.BACKENDS`; manifests accept its name from there.
"""

from server.backends.base import (
    Backend,
    CallTimeouts,
    ChatMessage,
    Completion,
    CompletionRequest,
    RateLimitInfo,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "Backend",
    "CallTimeouts",
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "RateLimitInfo",
    "ToolCall",
    "ToolSpec",
    "Usage",
]
