"""A user's overlay directory overrides shipped entries field by field and adds new ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import load_catalog, shipped_manifests_dir
from server.errors import ManifestError

NEW_MODEL_AND_AGENT = """
[[models]]
id = "ollama/my-coder:13b"
provider = "ollama"
model_name = "my-coder:13b"
family = "my-coder"
tier = "local"
input_per_mtok = 0.0
output_per_mtok = 0.0
context_window = 16384
max_output_tokens = 4096
tokens_per_second = 40
quality = { code = 7.0, reasoning = 6.0, general = 6.0, long_context = 5.0, instruction = 6.5 }
aliases = ["my-coder"]
price_source = "local"
price_date = 2026-11-22

[[agents]]
name = "aria_coder_rust"
description = "Rust specialist."
role_prompt = "You write idiomatic, safe Rust. You run clippy in your head. You explain lifetimes."
task_types = ["refactor"]
[agents.variants]
speed = ["ollama/my-coder:13b"]
balanced = ["ollama/my-coder:13b", "openai/gpt-4o-mini"]
quality = ["anthropic/claude-sonnet-5-5", "ollama/my-coder:13b"]
"""


def test_the_shipped_directory_is_the_default(tmp_path: Path) -> None:
    assert (shipped_manifests_dir() / "providers.toml").is_file()
    assert load_catalog() == load_catalog(base=shipped_manifests_dir())


def test_an_overlay_overrides_one_field_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "prices.toml").write_text(
        '[[models]]\nid = "openai/gpt-4o-mini"\ninput_per_mtok = 0.12\nprice_date = 2026-12-01\n',
        encoding="utf-8",
    )
    shipped = load_catalog().models["openai/gpt-4o-mini"]
    overlaid = load_catalog(overlay=tmp_path).models["openai/gpt-4o-mini"]
    assert overlaid.input_per_mtok == 0.12
    assert str(overlaid.price_date) == "2026-12-01"
    unchanged = shipped.model_dump(exclude={"input_per_mtok", "price_date"})
    assert overlaid.model_dump(exclude={"input_per_mtok", "price_date"}) == unchanged


def test_an_overlay_can_turn_a_free_plan_model_into_a_paid_one(tmp_path: Path) -> None:
    (tmp_path / "groq_dev_plan.toml").write_text(
        '[[models]]\nid = "groq/openai/gpt-oss-120b"\ntier = "paid"\n'
        "input_per_mtok = 0.15\noutput_per_mtok = 0.60\n",
        encoding="utf-8",
    )
    model = load_catalog(overlay=tmp_path).models["groq/openai/gpt-oss-120b"]
    assert (model.tier, model.input_per_mtok, model.output_per_mtok) == ("paid", 0.15, 0.60)


def test_an_overlay_adds_a_model_and_an_agent_that_uses_it(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(NEW_MODEL_AND_AGENT, encoding="utf-8")
    catalog = load_catalog(overlay=tmp_path)
    assert catalog.resolve_model("my-coder") is catalog.models["ollama/my-coder:13b"]
    agent = catalog.agents["aria_coder_rust"]
    assert agent.variants["balanced"] == ["ollama/my-coder:13b", "openai/gpt-4o-mini"]
    assert "aria_coder" in catalog.agents  # the shipped agents are still there
    assert len(catalog.models) == len(load_catalog().models) + 1


def test_an_overlay_can_reorder_a_shipped_agent_chain(tmp_path: Path) -> None:
    (tmp_path / "chains.toml").write_text(
        '[[agents]]\nname = "aria_qa"\n[agents.variants]\n'
        'speed = ["ollama/qwen2.5-coder:7b"]\nbalanced = ["ollama/qwen2.5-coder:14b"]\n'
        'quality = ["ollama/qwen2.5-coder:32b"]\n',
        encoding="utf-8",
    )
    catalog = load_catalog(overlay=tmp_path)
    assert catalog.agents["aria_qa"].variants["speed"] == ["ollama/qwen2.5-coder:7b"]
    assert catalog.agents["aria_qa"].role_prompt == load_catalog().agents["aria_qa"].role_prompt


def test_an_overlay_agent_naming_an_unknown_model_is_refused(tmp_path: Path) -> None:
    bad = NEW_MODEL_AND_AGENT.replace('speed = ["ollama/my-coder:13b"]', 'speed = ["ollama/missing:1b"]')
    overlay_file = tmp_path / "mine.toml"
    overlay_file.write_text(bad, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_catalog(overlay=tmp_path)
    message = str(caught.value)
    assert str(overlay_file) in message
    assert "agents.aria_coder_rust.variants.speed" in message
    assert "unknown model 'ollama/missing:1b'" in message


def test_loading_with_the_same_overlay_twice_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(NEW_MODEL_AND_AGENT, encoding="utf-8")
    first, second = load_catalog(overlay=tmp_path), load_catalog(overlay=tmp_path)
    assert first == second
    assert list(first.models) == list(second.models)
