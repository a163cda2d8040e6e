"""Model backends: one module per wire protocol behind the `Backend` Protocol (see `base`).

base           the contract: Backend, CompletionRequest, Completion, Usage, RateLimitInfo
openai_compat  OpenAI-compatible chat completions (OpenRouter, Groq, Cerebras, OpenAI, ...)
anthropic      Anthropic Messages
ollama         Ollama's native chat (raises the context window instead of truncating)
classify       HTTP status / transport failure -> server.errors class; key redaction
ratelimits     provider rate-limit headers -> RateLimitInfo
pricing        what a call cost and where the figure came from
registry       protocol -> backend, provider resolution, availability, local probes
"""

from server.backends.base import Backend, Completion, CompletionRequest, RateLimitInfo, Usage

__all__ = ["Backend", "Completion", "CompletionRequest", "RateLimitInfo", "Usage"]
