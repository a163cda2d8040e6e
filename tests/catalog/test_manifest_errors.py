"""Broken manifests fail at load time with a ManifestError naming the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import load_catalog
from server.errors import ManifestError

PROVIDERS = """
[[providers]]
name = "local"
protocol = "openai"
base_url = "http://127.0.0.1:11434/v1"
local = true
"""

MODELS = """
[[models]]
id = "local/tiny"
provider = "local"
model_name = "tiny"
family = "tiny"
tier = "local"
input_per_mtok = 0.0
output_per_mtok = 0.0
context_window = 4096
max_output_tokens = 1024
tokens_per_second = 50
quality = { code = 5, general = 5 }
price_source = "local"
price_date = 2026-11-22
"""

AGENTS = """
[[agents]]
name = "coder"
role_prompt = "You write code."
[agents.variants]
speed = ["local/tiny"]
balanced = ["local/tiny"]
quality = ["local/tiny"]
"""

REST = """
[[strategies]]
name = "balanced"
weight_cost = 1
weight_speed = 1
weight_quality = 1
speed_max_complexity = 3
quality_min_complexity = 7

[[policies]]
name = "normal"
max_cost_per_task = 0.10
max_tokens = 4000
temperature = 0.7
"""


def write_base(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "providers.toml").write_text(PROVIDERS, encoding="utf-8")
    (directory / "models.toml").write_text(MODELS, encoding="utf-8")
    (directory / "agents.toml").write_text(AGENTS, encoding="utf-8")
    (directory / "rest.toml").write_text(REST, encoding="utf-8")
    return directory


def load_error(base: Path, overlay: Path | None = None) -> str:
    with pytest.raises(ManifestError) as caught:
        load_catalog(overlay=overlay, base=base)
    return str(caught.value)


def test_a_minimal_manifest_directory_loads(tmp_path: Path) -> None:
    catalog = load_catalog(base=write_base(tmp_path / "base"))
    assert list(catalog.models) == ["local/tiny"]
    assert catalog.agents["coder"].variants["quality"] == ["local/tiny"]


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    broken = base / "broken.toml"
    broken.write_text('[[models]]\nid = "x"\nprice = \n', encoding="utf-8")
    message = load_error(base)
    assert str(broken) in message
    assert "not valid TOML" in message
    assert "line 3" in message


def test_a_negative_price_names_the_file_the_model_and_the_field(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    models = base / "models.toml"
    models.write_text(MODELS.replace("input_per_mtok = 0.0", "input_per_mtok = -1.5"), encoding="utf-8")
    message = load_error(base)
    assert str(models) in message
    assert "models.local/tiny.input_per_mtok" in message
    assert "greater than or equal to 0" in message


def test_an_unknown_provider_names_the_model_and_lists_the_known_ones(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    models = base / "models.toml"
    models.write_text(MODELS.replace('provider = "local"', 'provider = "nowhere"'), encoding="utf-8")
    message = load_error(base)
    assert str(models) in message
    assert "models.local/tiny.provider" in message
    assert "unknown provider 'nowhere'" in message
    assert "known: local" in message


def test_an_agent_chain_naming_an_unknown_model_names_the_agent_and_variant(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    agents = base / "agents.toml"
    agents.write_text(
        AGENTS.replace('balanced = ["local/tiny"]', 'balanced = ["local/huge"]'), encoding="utf-8"
    )
    message = load_error(base)
    assert str(agents) in message
    assert "agents.coder.variants.balanced" in message
    assert "unknown model 'local/huge'" in message


def test_an_agent_missing_a_variant_names_what_is_missing(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    agents = base / "agents.toml"
    agents.write_text(AGENTS.replace('quality = ["local/tiny"]\n', ""), encoding="utf-8")
    message = load_error(base)
    assert str(agents) in message
    assert "agents.coder.variants" in message
    assert "missing: quality" in message


def test_an_unknown_top_level_key_names_it_and_the_accepted_keys(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    typo = base / "typo.toml"
    typo.write_text(MODELS.replace("[[models]]", "[[modles]]"), encoding="utf-8")
    message = load_error(base)
    assert str(typo) in message
    assert "unknown top-level key 'modles'" in message
    assert "accepted: providers, models, agents, strategies, policies" in message


def test_an_unknown_field_in_an_entry_is_refused(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    models = base / "models.toml"
    models.write_text(MODELS + 'colour = "blue"\n', encoding="utf-8")
    message = load_error(base)
    assert str(models) in message
    assert "models.local/tiny.colour" in message
    assert "Extra inputs are not permitted" in message


def test_a_model_defined_twice_in_the_shipped_set_is_refused(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base")
    (base / "more_models.toml").write_text(MODELS, encoding="utf-8")
    message = load_error(base)
    assert "models.local/tiny is defined twice" in message


def test_a_broken_overlay_names_the_overlay_file(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    prices = overlay / "prices.toml"
    prices.write_text('[[models]]\nid = "openai/gpt-4o"\noutput_per_mtok = -10.0\n', encoding="utf-8")
    message = load_error(base=write_base(tmp_path / "base"), overlay=overlay)
    # gpt-4o is not in this base, so the entry is new and incomplete: both problems are named.
    assert str(prices) in message
    assert "models.openai/gpt-4o" in message


def test_a_missing_overlay_directory_is_reported(tmp_path: Path) -> None:
    message = load_error(base=write_base(tmp_path / "base"), overlay=tmp_path / "nope")
    assert str(tmp_path / "nope") in message
    assert "does not exist" in message
