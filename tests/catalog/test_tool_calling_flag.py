"""The catalogue says which models take tools (agent mode refuses the others)."""

from __future__ import annotations

import pytest

from server.catalog import load_catalog
from server.catalog.schema import ModelSpec
from tests.backends.helpers import make_model

# Documented without function calling: o1-mini, DeepSeek R1 (reasoner), Ollama's phi3 and
# deepseek-coder builds (no `tools` tag), and Cerebras' retired llama3.1-8b (not confirmed).
WITHOUT_TOOLS = {
    "openai/o1-mini",
    "deepseek/deepseek-reasoner",
    "openrouter/deepseek/deepseek-r1",
    "ollama/phi3:mini",
    "ollama/deepseek-coder:6.7b",
    "cerebras/llama3.1-8b",
}


def test_shipped_models_say_whether_they_call_tools() -> None:
    models = load_catalog().models
    assert WITHOUT_TOOLS <= set(models)
    assert {m for m, spec in models.items() if not spec.tool_calling} == WITHOUT_TOOLS


@pytest.mark.parametrize(
    "model_id",
    ["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini", "groq/llama-3.3-70b-versatile", "ollama/qwen2.5-coder:7b"],
)
def test_well_known_tool_callers_are_marked(model_id: str) -> None:
    assert load_catalog().models[model_id].tool_calling


def test_a_model_entry_without_the_flag_is_not_trusted_with_tools() -> None:
    spec: ModelSpec = make_model()
    assert spec.tool_calling is False
    assert make_model(tool_calling=True).tool_calling is True
