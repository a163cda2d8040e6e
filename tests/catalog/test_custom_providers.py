"""The config file's providers are merged into the catalogue once, the user's fields winning one by
one; the gate's limits, the rate limiters and the backends all use that one merged entry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from server.catalog import load_catalog
from server.errors import ManifestError
from server.settings import load_settings
from server.state import open_app_state
from tests.conftest import isolated_env
from tests.e2e.helpers import call, wait_finished
from tests.support import LoopbackProvider

GROQ_MODEL = "groq/llama-3.1-8b-instant"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_groq_agent(directory: Path) -> Path:
    """An overlay agent whose every variant runs on the shipped groq model."""
    directory.mkdir(parents=True, exist_ok=True)
    chain = f'["{GROQ_MODEL}"]'
    (directory / "agent.toml").write_text(
        f'[[agents]]\nname = "gcoder"\ndescription = "test"\nrole_prompt = "You code."\ncapability = "code"\n'
        f"variants = {{ speed = {chain}, balanced = {chain}, quality = {chain} }}\n",
        encoding="utf-8",
    )
    return directory


async def test_a_custom_groq_from_the_config_file_is_called_at_its_url_with_the_merged_rate_limits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with LoopbackProvider() as lp:
        config = write_config(
            tmp_path,
            f'[[custom_providers]]\nname = "groq"\nbase_url = "{lp.openai_url}"\nrequests_per_minute = 7\n\n'
            f'[[custom_providers]]\nname = "lmlocal"\nbase_url = "{lp.openai_url}"\n',
        )
        env = isolated_env(tmp_path, PWM_CONFIG=str(config), PWM_MANIFESTS=str(write_groq_agent(tmp_path / "m")),
                           GROQ_API_KEY="gsk-test-key")
        settings = load_settings(env)
        with caplog.at_level(logging.DEBUG, logger="server"):
            state = await open_app_state(settings)
        try:
            merged = state.catalog.providers["groq"]
            # The user's fields win; the shipped ones they left out stay.
            assert (merged.base_url, merged.requests_per_minute) == (lp.openai_url, 7)
            assert (merged.key_env, merged.tokens_per_minute, merged.protocol) == ("GROQ_API_KEY", 6000, "openai")
            # One entry for everyone: the engine's gate and limiters read the same catalogue as the backends.
            assert state.engine.catalog.providers["groq"] == state.registry.provider("groq") == merged
            assert state.registry.resolve(GROQ_MODEL)[1] == lp.openai_url
            # A new provider gets the defaults for what was left out, and no "replaces" warning.
            new = state.catalog.providers["lmlocal"]
            assert (new.protocol, new.local, new.key_env) == ("openai", True, None)
            assert "replaces" not in caplog.text
        finally:
            await state.aclose()

        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {
                "tasks": [{"agent_type": "gcoder", "task_description": "Add a docstring to parse()"}],
            })
            status = await wait_finished(client, submitted["group_id"])
        assert status["status"] == "succeeded", status
        (request,) = [r for r in lp.requests if r.path.endswith("/chat/completions")]
        assert request.headers["authorization"] == "Bearer gsk-test-key"
        assert status["tasks"][0]["model_used"].startswith("groq/")


def test_a_providers_table_overrides_only_the_fields_it_names(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[providers.groq]\nbase_url = "http://127.0.0.1:9/v1"\n')
    settings = load_settings(isolated_env(tmp_path, PWM_CONFIG=str(config)))
    shipped = load_catalog().providers["groq"]
    merged = load_catalog(provider_overrides=settings.provider_overrides).providers["groq"]
    assert merged == shipped.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})


def test_a_bad_provider_field_in_the_config_names_the_entry_and_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[[custom_providers]]\nname = "vllm"\nbase_url = "http://127.0.0.1:9/v1"\n'
                                    'protocol = "grpc"\n')
    settings = load_settings(isolated_env(tmp_path, PWM_CONFIG=str(config)))
    with pytest.raises(ManifestError, match=r"custom_providers.*vllm.*protocol"):
        load_catalog(provider_overrides=settings.provider_overrides)
