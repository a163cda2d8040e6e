"""What one request to a model may hold: its context window, or a tokens-a-minute limit below it.

Groq, Cerebras and OpenAI refuse a request larger than a model's per-minute limit outright
("413 Request too large ... Limit 8000, Requested 32979"), prompt and `max_tokens` together,
whatever the minute's other traffic: no wait helps, so such a limit caps every request like a
window does. The router, the context budget and each call read it here.
"""

from __future__ import annotations

from server.catalog.schema import Catalog, ModelSpec

__all__ = ["ceiling_words", "limited_per_minute", "request_ceiling"]


def request_ceiling(model: ModelSpec, catalog: Catalog) -> int:
    """The most tokens one request to `model` may ask for: its window, or its tokens-per-minute
    limit (else its provider's) when lower, less a tenth kept back because the provider counts
    with its own tokenizer, which may make more of the same text than ours (cl100k)."""
    provider = catalog.providers.get(model.provider)
    per_minute = model.tokens_per_minute or (provider.tokens_per_minute if provider is not None else None)
    return min(model.context_window, int(per_minute * 0.9)) if per_minute else model.context_window


def limited_per_minute(model: ModelSpec, catalog: Catalog) -> bool:
    """Whether a per-minute limit, not the window, caps a request to `model`."""
    return request_ceiling(model, catalog) < model.context_window


def ceiling_words(model: ModelSpec, ceiling: int) -> str:
    """What caps a request to `model` at `ceiling` tokens, for a reason a caller reads."""
    if ceiling == model.context_window:
        return f"its window of {model.context_window} tokens"
    return f"the {ceiling} tokens a request may hold under its per-minute limit"
