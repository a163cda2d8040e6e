"""Builders for backend tests: catalogue entries and requests aimed at the loopback provider."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from server.backends.base import Backend, ChunkCallback, CompletionRequest, Message, ToolSpec
from server.backends.registry import BACKENDS
from server.catalog.schema import ModelSpec, ProviderSpec
from tests.support import LoopbackProvider

__all__ = ["KEY", "PROTOCOLS", "backend", "make_model", "make_provider", "make_request", "protocol_request"]

PROTOCOLS = ("openai", "anthropic", "ollama")

KEY = "sk-test-SECRET-0123456789abcdef"


def make_provider(name: str = "openrouter", protocol: str = "openai", **fields: Any) -> ProviderSpec:
    data: dict[str, Any] = {
        "name": name,
        "protocol": protocol,
        "base_url": "http://127.0.0.1:9/v1",
        "key_env": f"{name.upper()}_API_KEY",
    }
    data.update(fields)
    return ProviderSpec.model_validate(data)


def make_model(
    model_name: str = "model-x", provider: str = "openrouter", tier: str = "paid", **fields: Any
) -> ModelSpec:
    data: dict[str, Any] = {
        "id": f"{provider}/{model_name}",
        "provider": provider,
        "model_name": model_name,
        "family": model_name,
        "tier": tier,
        "input_per_mtok": 1.0 if tier == "paid" else None,
        "output_per_mtok": 2.0 if tier == "paid" else None,
        "context_window": 32768,
        "max_output_tokens": 4096,
        "tokens_per_second": 100.0,
        "quality": {"code": 7.0},
        "price_source": "test",
        "price_date": dt.date(2025, 1, 1),
    }
    data.update(fields)
    return ModelSpec.model_validate(data)


def make_request(
    base_url: str,
    model_name: str = "model-x",
    *,
    protocol: str = "openai",
    provider_name: str | None = None,
    stream: bool = True,
    api_key: str | None = KEY,
    stall_timeout_s: float = 5.0,
    timeout_s: float = 10.0,
    context_tokens: int | None = None,
    on_chunk: ChunkCallback | None = None,
    messages: list[Message] | None = None,
    provider_fields: dict[str, Any] | None = None,
    model_fields: dict[str, Any] | None = None,
    first_byte_timeout_s: float | None = None,
    tools: tuple[ToolSpec, ...] = (),
) -> CompletionRequest:
    name = provider_name or {"openai": "openrouter", "anthropic": "anthropic", "ollama": "ollama"}[protocol]
    provider = make_provider(name, protocol, base_url=base_url, **(provider_fields or {}))
    model = make_model(model_name, name, **(model_fields or {}))
    return CompletionRequest(
        model=model,
        provider=provider,
        base_url=base_url,
        api_key=api_key,
        messages=messages
        or [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
        max_tokens=256,
        stream=stream,
        timeout_s=timeout_s,
        stall_timeout_s=stall_timeout_s,
        context_tokens=context_tokens,
        on_chunk=on_chunk,
        first_byte_timeout_s=first_byte_timeout_s,
        tools=tools,
    )


def protocol_request(lp: LoopbackProvider, protocol: str, **kwargs: Any) -> CompletionRequest:
    """A request for `model-x` at the loopback provider in `protocol`'s own dialect."""
    if protocol == "ollama":
        kwargs.setdefault("api_key", None)
        kwargs.setdefault("model_fields", {"tier": "local"})
    base = lp.openai_url if protocol == "openai" else lp.base_url
    return make_request(base, protocol=protocol, **kwargs)


def backend(protocol: str, client: httpx.AsyncClient) -> Backend:
    return BACKENDS[protocol](client)
