"""Provider resolution, availability with reasons, local probes, custom providers."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.backends.anthropic import AnthropicBackend
from server.backends.ollama import OllamaBackend
from server.backends.openai_compat import OpenAICompatBackend
from server.backends.registry import BACKENDS, MISCONFIGURED_FOR_S, ProviderRegistry, parse_ollama_host
from server.catalog.loader import load_catalog, shipped_manifests_dir
from server.catalog.schema import Catalog, ProviderSpec
from server.errors import InputError
from server.settings import Settings, load_settings
from tests.backends.helpers import KEY, make_model
from tests.support import LoopbackProvider, Reply

MODELS = [
    make_model("llama-3.1-8b-instant", "groq", tier="free"),
    make_model("claude-sonnet", "anthropic"),
    make_model("qwen2.5-coder:7b", "ollama", tier="local"),
    make_model("deepseek-chat", "openrouter"),
    make_model("local-coder", "lmstudio", tier="local"),
]


def catalog(extra_providers: tuple[ProviderSpec, ...] = ()) -> Catalog:
    """The shipped providers manifest plus a few models (and any extra providers)."""
    document = tomllib.loads((shipped_manifests_dir() / "providers.toml").read_text(encoding="utf-8"))
    providers = {p["name"]: ProviderSpec.model_validate(p) for p in document["providers"]}
    providers.update({p.name: p for p in extra_providers})
    models = {m.id: m for m in MODELS if m.provider in providers}
    return Catalog.model_validate(
        {"providers": providers, "models": models, "agents": {}, "strategies": {}, "policies": {}}
    )


def settings(tmp_path: Path, config: str | None = None, **env: str) -> Settings:
    base = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "XDG_DATA_HOME": str(tmp_path / "d"),
    }
    if config is not None:
        path = tmp_path / "config.toml"
        path.write_text(config, encoding="utf-8")
        base["PWM_CONFIG"] = str(path)
    return load_settings({**base, **env})


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def test_backends_are_registered_by_protocol() -> None:
    assert BACKENDS == {"openai": OpenAICompatBackend, "anthropic": AnthropicBackend, "ollama": OllamaBackend}


async def test_backend_for_picks_the_protocol_and_ollama_uses_its_native_api(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path), http)
    assert isinstance(registry.backend_for("groq"), OpenAICompatBackend)
    assert isinstance(registry.backend_for("anthropic"), AnthropicBackend)
    assert isinstance(registry.backend_for("ollama"), OllamaBackend)
    assert registry.backend_for("groq") is registry.backend_for("openrouter")


async def test_missing_key_makes_a_model_unavailable_naming_the_variable(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path), http)
    assert registry.availability("groq/llama-3.1-8b-instant") == "no GROQ_API_KEY set"
    assert registry.availability("anthropic/claude-sonnet") == "no ANTHROPIC_API_KEY set"
    assert registry.availability("ollama/qwen2.5-coder:7b") is None
    assert set(registry.unavailable()) == {
        "groq/llama-3.1-8b-instant",
        "anthropic/claude-sonnet",
        "openrouter/deepseek-chat",
    }


async def test_key_present_resolves_provider_url_and_key(tmp_path: Path, http: httpx.AsyncClient) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path, GROQ_API_KEY=KEY), http)
    assert registry.availability("groq/llama-3.1-8b-instant") is None
    provider, base_url, key = registry.resolve("groq/llama-3.1-8b-instant")
    assert (provider.name, base_url, key) == ("groq", "https://api.groq.com/openai/v1", KEY)


async def test_provider_base_url_env_overrides_manifest_and_config(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    config = '[providers.groq]\nbase_url = "http://config-host/v1"\n'
    configured = settings(tmp_path, config)
    from_config = ProviderRegistry(load_catalog(provider_overrides=configured.provider_overrides), configured, http)
    assert from_config.resolve("groq/llama-3.1-8b-instant")[1] == "http://config-host/v1"
    with_env = settings(tmp_path, config, GROQ_BASE_URL="http://env-host/v1")
    from_env = ProviderRegistry(load_catalog(provider_overrides=with_env.provider_overrides), with_env, http)
    assert from_env.resolve("groq/llama-3.1-8b-instant")[1] == "http://env-host/v1"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        (":8080", "http://127.0.0.1:8080"),
        ("gpu-box", "http://gpu-box:11434"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("http://10.0.0.5:9999/ollama", "http://10.0.0.5:9999/ollama"),
        ("[::1]:11500", "http://[::1]:11500"),
    ],
)
def test_ollama_host_is_read_like_ollama_reads_it(value: str, url: str) -> None:
    assert parse_ollama_host(value) == url


async def test_ollama_host_sets_the_url_unless_ollama_base_url_is_set(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    default = ProviderRegistry(catalog(), settings(tmp_path), http)
    assert default.resolve("ollama/qwen2.5-coder:7b")[1] == "http://127.0.0.1:11434"
    hosted = ProviderRegistry(catalog(), settings(tmp_path, OLLAMA_HOST="gpu-box:11500"), http)
    assert hosted.resolve("ollama/qwen2.5-coder:7b")[1] == "http://gpu-box:11500"
    both = settings(tmp_path, OLLAMA_HOST="gpu-box:11500", OLLAMA_BASE_URL="http://other:1/v1")
    assert ProviderRegistry(catalog(), both, http).resolve("ollama/qwen2.5-coder:7b")[1] == "http://other:1"


async def test_custom_provider_from_settings_is_openai_compatible_and_callable(
    tmp_path: Path, http: httpx.AsyncClient, lp: LoopbackProvider
) -> None:
    config = (
        f'[[custom_providers]]\nname = "lmstudio"\nbase_url = "{lp.openai_url}"\nkey_env = "LMSTUDIO_KEY"\n'
    )
    configured = settings(tmp_path, config, LMSTUDIO_KEY=KEY)
    registry = ProviderRegistry(load_catalog(provider_overrides=configured.provider_overrides), configured, http)
    provider = registry.provider("lmstudio")
    assert (provider.protocol, provider.local, provider.key_env) == ("openai", True, "LMSTUDIO_KEY")
    # The catalogue's models may name it (an overlay declares them).
    model = make_model("local-coder", "lmstudio", tier="local")
    lp.script("local-coder", [Reply("from lm studio")])
    request = registry.request_for(model, [{"role": "user", "content": "hi"}], max_tokens=10)
    done = await registry.backend_for("lmstudio").complete(request)
    assert done.text == "from lm studio"
    assert lp.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_probe_marks_unreachable_local_servers_with_the_reason(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path, OLLAMA_HOST="127.0.0.1:9"), http)
    results = await registry.probe_local(timeout=1.0)
    assert results["ollama"] == "ollama not reachable at http://127.0.0.1:9 (ConnectError)"
    assert registry.availability("ollama/qwen2.5-coder:7b") == results["ollama"]


async def test_probe_finds_ollama_and_the_models_it_has(
    tmp_path: Path, http: httpx.AsyncClient, lp: LoopbackProvider
) -> None:
    lp.script("qwen2.5-coder:7b", [])
    registry = ProviderRegistry(
        catalog(
            (
                ProviderSpec.model_validate(
                    {"name": "ollama", "protocol": "ollama", "base_url": "x", "local": True}
                ),
            )
        ),
        settings(tmp_path, OLLAMA_HOST=lp.base_url),
        http,
    )
    registry.start_probe(timeout=1.0)
    assert (await registry.start_probe()) == {"ollama": None}
    assert registry.availability("ollama/qwen2.5-coder:7b") is None
    other = make_model("llama3", "ollama", tier="local")
    assert (
        registry.availability(other)
        == f"ollama at {lp.base_url} does not have llama3 (run: ollama pull llama3)"
    )


async def test_misconfigured_model_is_left_out_with_reason_and_no_key(
    tmp_path: Path, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path, GROQ_API_KEY=KEY), http)
    registry.mark_misconfigured("groq/llama-3.1-8b-instant", f"401 Incorrect API key provided: {KEY}")
    reason = registry.availability("groq/llama-3.1-8b-instant")
    assert reason is not None and reason.startswith("marked misconfigured: 401")
    assert KEY not in reason and KEY not in caplog.text
    registry.clear_misconfigured("groq/llama-3.1-8b-instant")
    assert registry.availability("groq/llama-3.1-8b-instant") is None


async def test_a_misconfigured_mark_expires_so_a_fixed_provider_is_tried_again(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    now = [1000.0]
    registry = ProviderRegistry(catalog(), settings(tmp_path, GROQ_API_KEY=KEY), http, clock=lambda: now[0])
    registry.mark_misconfigured("groq/llama-3.1-8b-instant", "auth: authentication failed (401)")
    now[0] += MISCONFIGURED_FOR_S - 1
    assert registry.availability("groq/llama-3.1-8b-instant") == (
        "marked misconfigured: auth: authentication failed (401) (tried again in 1s)")
    now[0] += 1
    assert registry.availability("groq/llama-3.1-8b-instant") is None
    assert registry.clear_misconfigured() == []  # the expired mark is gone, not only hidden


async def test_clearing_takes_one_mark_or_all_off_at_once(tmp_path: Path, http: httpx.AsyncClient) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path, GROQ_API_KEY=KEY), http)
    for model in ("groq/llama-3.1-8b-instant", "groq/openai/gpt-oss-20b"):
        registry.mark_misconfigured(model, "auth: 401")
    assert registry.clear_misconfigured("groq/openai/gpt-oss-20b") == ["groq/openai/gpt-oss-20b"]
    assert registry.availability("groq/llama-3.1-8b-instant") is not None
    assert registry.clear_misconfigured() == ["groq/llama-3.1-8b-instant"]
    assert registry.availability("groq/llama-3.1-8b-instant") is None


async def test_unknown_model_is_a_clear_input_error(tmp_path: Path, http: httpx.AsyncClient) -> None:
    registry = ProviderRegistry(catalog(), settings(tmp_path), http)
    with pytest.raises(InputError, match="unknown model 'gpt-9'"):
        registry.resolve("gpt-9")
