"""Which backend serves which provider, where it lives, and whether it can be used right now.

`BACKENDS` maps a wire protocol to its backend class. `ProviderRegistry` resolves a model to its
provider spec, base URL and key (keys are read at call time and never logged or returned in a
reason), says why a model is unusable (no key, local server not answering, marked
misconfigured after a 401/403/404, for `MISCONFIGURED_FOR_S`), and probes local servers once at start.

The `ollama` provider is served by Ollama's native API (see `server.backends.ollama`) even when
its manifest entry still says `protocol = "openai"` with a `/v1` URL: the root is derived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from server.backends.anthropic import AnthropicBackend
from server.backends.base import Backend, CallTimeouts, ChunkCallback, CompletionRequest, Message, ToolSpec
from server.backends.classify import redact
from server.backends.ollama import OllamaBackend, ollama_root
from server.backends.openai_compat import OpenAICompatBackend
from server.catalog.schema import Catalog, ModelSpec, ProviderSpec
from server.errors import InputError
from server.settings import Settings

__all__ = ["BACKENDS", "ProviderRegistry", "parse_ollama_host"]

log = logging.getLogger(__name__)

BACKENDS: dict[str, Callable[[httpx.AsyncClient], Backend]] = {
    "openai": OpenAICompatBackend,
    "anthropic": AnthropicBackend,
    "ollama": OllamaBackend,
}

_OLLAMA_DEFAULT_PORT = "11434"

MISCONFIGURED_FOR_S = 300.0
"""How long a model stays out after a 401/403/404 before it is tried again. Such a call fails at
once and is not billed, so trying again costs one quick refusal per model every five minutes,
while what fixes it happens outside the server (a key re-enabled or topped up, access to a model
granted, a model whose hosts were all down listed again: OpenRouter's 404 "no endpoints found")
and is picked up within minutes instead of at the next restart. Shorter would spend most tasks'
first try on a model still refused; longer would leave a fixed provider unused for long."""


def parse_ollama_host(value: str) -> str:
    """A base URL from `OLLAMA_HOST` the way Ollama reads it ("host:port", ":port", or a URL)."""
    text = value.strip()
    scheme, has_scheme = "http", False
    if "://" in text:
        scheme, text = text.split("://", 1)
        has_scheme = True
    hostport, _, path = text.partition("/")
    host, port = hostport, ""
    if hostport.startswith("["):  # [::1]:11434
        end = hostport.find("]")
        host, port = hostport[: end + 1], hostport[end + 2 :]
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # a bind-all address: connect locally
        host = "127.0.0.1"
    if not port:
        port = (
            {"https": "443", "http": "80"}[scheme]
            if has_scheme and scheme in ("http", "https")
            else _OLLAMA_DEFAULT_PORT
        )
    url = f"{scheme}://{host}:{port}"
    return f"{url}/{path}".rstrip("/") if path else url


def _safe_url(url: str) -> str:
    """`url` without any user:password part (safe to show)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


def _ollama_name(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


class ProviderRegistry:
    """The catalogue's providers (shipped, overlaid, and the config file's, merged by the loader)."""

    def __init__(
        self, catalog: Catalog, settings: Settings, http_client: httpx.AsyncClient, *,
        misconfigured_for_s: float = MISCONFIGURED_FOR_S, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._settings = settings
        self._client = http_client
        # The catalogue already holds the user's custom providers, merged once by the loader.
        self.providers: dict[str, ProviderSpec] = dict(catalog.providers)
        self._backends: dict[str, Backend] = {}
        # What does not change while the server runs (the catalogue, the settings and the
        # environment are read once), worked out once per provider or model: a call looks these
        # up on every attempt.
        self._backend_of: dict[str, Backend] = {}
        self._resolved: dict[str, tuple[ProviderSpec, str, str | None]] = {}
        self._static_reason: dict[str, str | None] = {}
        self._misconfigured: dict[str, tuple[str, float]] = {}  # model -> (reason, until, by `clock`)
        self._misconfigured_for_s = misconfigured_for_s
        self._clock = clock
        self._unreachable: dict[str, str] = {}
        self._served: dict[str, set[str]] = {}  # provider -> model names its server lists (Ollama)
        self._probe_task: asyncio.Task[dict[str, str | None]] | None = None

    # -- lookup ----------------------------------------------------------------------------

    def protocol(self, provider: ProviderSpec) -> str:
        if provider.name == "ollama" and provider.protocol == "openai":
            return "ollama"
        return provider.protocol

    def provider(self, name: str) -> ProviderSpec:
        try:
            return self.providers[name]
        except KeyError:
            raise InputError(
                "provider", f"unknown provider {name!r}", ", ".join(sorted(self.providers))
            ) from None

    def backend_for(self, provider_name: str) -> Backend:
        """The (shared, stateless) backend speaking this provider's protocol."""
        backend = self._backend_of.get(provider_name)
        if backend is None:
            protocol = self.protocol(self.provider(provider_name))
            backend = self._backends.get(protocol)
            if backend is None:
                backend = self._backends[protocol] = BACKENDS[protocol](self._client)
            self._backend_of[provider_name] = backend
        return backend

    def model(self, model: ModelSpec | str) -> ModelSpec:
        if isinstance(model, ModelSpec):
            return model
        spec = self._catalog.models.get(model) or self._catalog.resolve_model(model)
        if spec is None:
            raise InputError("model", f"unknown model {model!r}")
        return spec

    def base_url(self, provider: ProviderSpec) -> str:
        """`<PROVIDER>_BASE_URL` (or the manifest's base_url_env), then OLLAMA_HOST, then the
        catalogue's base_url (the config file's entry merged in)."""
        settings = self._settings
        override = settings.base_url_override(provider.name, provider.base_url_env)
        if self.protocol(provider) != "ollama":
            return override or provider.base_url
        if override:
            return ollama_root(override)
        if provider.name == "ollama" and settings.ollama_host:
            return ollama_root(parse_ollama_host(settings.ollama_host))
        return ollama_root(provider.base_url)

    def resolve(self, model: ModelSpec | str) -> tuple[ProviderSpec, str, str | None]:
        """(provider spec, base URL, API key or None) for a model."""
        key = model if isinstance(model, str) else model.id
        resolved = self._resolved.get(key)
        if resolved is None:
            spec = self.model(model)
            provider = self.provider(spec.provider)
            resolved = provider, self.base_url(provider), self._settings.api_key(provider.key_env)
            self._resolved[key] = resolved
        return resolved

    def request_for(
        self,
        model: ModelSpec | str,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.2,
        stream: bool = True,
        timeout_s: float = 300.0,
        stall_timeout_s: float = 60.0,
        context_tokens: int | None = None,
        on_chunk: ChunkCallback | None = None,
        timeouts: CallTimeouts | None = None,
        tools: tuple[ToolSpec, ...] = (),
    ) -> CompletionRequest:
        """A ready `CompletionRequest` for a model, with its endpoint and key filled in
        (`timeouts`, when given, replaces `timeout_s` and `stall_timeout_s`)."""
        spec = self.model(model)
        provider, base_url, api_key = self.resolve(spec)
        request = CompletionRequest(
            model=spec,
            provider=provider,
            base_url=base_url,
            api_key=api_key,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            stream=stream,
            timeout_s=timeout_s,
            stall_timeout_s=stall_timeout_s,
            context_tokens=context_tokens,
            on_chunk=on_chunk,
            tools=tools,
        )
        return request.with_timeouts(timeouts) if timeouts is not None else request

    # -- health ----------------------------------------------------------------------------

    def availability(self, model: ModelSpec | str) -> str | None:
        """Why this model cannot be used now, or None when it can."""
        spec = model if isinstance(model, ModelSpec) else self.model(model)
        if self._misconfigured:
            marked = self._misconfigured_reason(spec.id)
            if marked is not None:
                return marked
        try:
            reason = self._static_reason[spec.id]
        except KeyError:
            reason = self._static_reason[spec.id] = self._static_availability(spec)
        if reason is not None:
            return reason
        if not self._unreachable and not self._served:  # no local provider found wanting
            return None
        provider = self.providers[spec.provider]
        if provider.name in self._unreachable:
            return self._unreachable[provider.name]
        served = self._served.get(provider.name)
        if served is not None and _ollama_name(spec.model_name) not in served:
            return (
                f"{provider.name} at {_safe_url(self.base_url(provider))} does not have {spec.model_name} "
                f"(run: ollama pull {spec.model_name})"
            )
        return None

    def _static_availability(self, spec: ModelSpec) -> str | None:
        """What keeps a model out for as long as the server runs: no provider, no key."""
        provider = self.providers.get(spec.provider)
        if provider is None:
            return f"unknown provider {spec.provider!r}"
        if provider.key_env and self._settings.api_key(provider.key_env) is None:
            return f"no {provider.key_env} set"
        return None

    def unavailable(self) -> dict[str, str]:
        """Every catalogue model that cannot be used now, with the reason."""
        reasons = {model_id: self.availability(spec) for model_id, spec in self._catalog.models.items()}
        return {model_id: reason for model_id, reason in reasons.items() if reason}

    def mark_misconfigured(self, model_id: str, reason: str) -> None:
        """Leave a model out of routing (after a 401/403/404) for `misconfigured_for_s`, or until
        `clear_misconfigured`."""
        for provider in self.providers.values():
            reason = redact(reason, self._settings.api_key(provider.key_env))
        self._misconfigured[model_id] = (reason, self._clock() + self._misconfigured_for_s)
        log.warning("model %s marked misconfigured for %.0fs: %s", model_id, self._misconfigured_for_s, reason)

    def clear_misconfigured(self, model_id: str | None = None) -> list[str]:
        """Take the mark off `model_id` (None: off every model) now; the models it was on, sorted."""
        if model_id is None:
            cleared, self._misconfigured = sorted(self._misconfigured), {}
            return cleared
        return [model_id] if self._misconfigured.pop(model_id, None) is not None else []

    def _misconfigured_reason(self, model_id: str) -> str | None:
        marked = self._misconfigured.get(model_id)
        if marked is None:
            return None
        reason, until = marked
        left = until - self._clock()
        if left <= 0:  # expired: the next call tries the model again
            del self._misconfigured[model_id]
            return None
        return f"marked misconfigured: {reason} (tried again in {left:.0f}s)"

    async def probe_local(self, timeout: float = 1.0) -> dict[str, str | None]:  # noqa: ASYNC109 (per-request)
        """Ask every local provider whether it answers; returns provider -> reason (None = fine)."""
        local = [p for p in self.providers.values() if p.local]
        results = await asyncio.gather(*(self._probe(p, timeout) for p in local))
        return {p.name: reason for p, reason in zip(local, results, strict=True)}

    def start_probe(self, timeout: float = 1.0) -> asyncio.Task[dict[str, str | None]]:
        """Run `probe_local` in the background (server start does not wait for it)."""
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = asyncio.create_task(self.probe_local(timeout), name="probe-local-providers")
        return self._probe_task

    async def _probe(self, provider: ProviderSpec, timeout_s: float) -> str | None:
        base = self.base_url(provider)
        ollama = self.protocol(provider) == "ollama"
        url = base + "/api/tags" if ollama else base.rstrip("/") + "/models"
        key = self._settings.api_key(provider.key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            response = await self._client.get(url, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            reason = f"{provider.name} not reachable at {_safe_url(base)} ({type(exc).__name__})"
            self._unreachable[provider.name] = reason
            self._served.pop(provider.name, None)
            log.info("%s", reason)
            return reason
        self._unreachable.pop(provider.name, None)
        if response.status_code >= 500:
            reason = f"{provider.name} at {_safe_url(base)} answers HTTP {response.status_code}"
            self._unreachable[provider.name] = reason
            log.info("%s", reason)
            return reason
        served = self._ollama_models(response) if ollama and response.status_code == 200 else None
        if served is not None:
            self._served[provider.name] = served
        return None

    def _ollama_models(self, response: httpx.Response) -> set[str] | None:
        try:
            data: Any = response.json()
        except ValueError:
            return None
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, list):
            return None
        names: set[str] = set()
        for item in models:
            if isinstance(item, dict):
                for key in ("name", "model"):
                    if isinstance(item.get(key), str):
                        names.add(_ollama_name(item[key]))
        return names

