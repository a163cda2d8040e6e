"""The shipped catalogue: it loads, covers the seeds' model families, and its entries are complete."""

from __future__ import annotations

import datetime as dt

import pytest

from server.catalog import VARIANTS, Catalog, Variant, load_catalog
from server.catalog.schema import ModelSpec

# The families the seeds name, looked up by the names users (and the seeds) type:
# alias -> (provider, family).
SEED_FAMILIES: dict[str, tuple[str, str]] = {
    "cerebras_llama3_1_8b": ("cerebras", "llama-3.1-8b"),
    "cerebras_llama3_1_70b": ("cerebras", "llama-3.3-70b"),
    "groq-llama-3.1-8b": ("groq", "llama-3.1-8b"),
    "groq-llama-3.3-70b": ("groq", "llama-3.3-70b"),
    "deepseek-v3": ("deepseek", "deepseek-v3"),
    "or-deepseek-v3": ("openrouter", "deepseek-v3"),
    "gpt_4o_mini": ("openai", "gpt-4o-mini"),
    "gpt-4o-mini": ("openai", "gpt-4o-mini"),
    "gpt-4o": ("openai", "gpt-4o"),
    "o1-mini": ("openai", "o-series"),
    "o3-mini": ("openai", "o-series"),
    "o3": ("openai", "o-series"),
    "o4-mini": ("openai", "o-series"),
    "gpt-3.5-turbo": ("openai", "gpt-3.5-turbo"),
    "claude-3-haiku": ("anthropic", "claude-haiku"),
    "claude-3.5-haiku": ("anthropic", "claude-haiku"),
    "claude-3.5-sonnet": ("anthropic", "claude-sonnet"),
    "claude_3_5_sonnet": ("anthropic", "claude-sonnet"),
    "claude-sonnet-4": ("anthropic", "claude-sonnet"),
    "claude-4-opus": ("anthropic", "claude-opus"),
    "claude-opus-4.1": ("anthropic", "claude-opus"),
    "sonnet": ("anthropic", "claude-sonnet"),
    "opus": ("anthropic", "claude-opus"),
    "haiku": ("anthropic", "claude-haiku"),
    "gemini-1.5-flash": ("gemini", "gemini-flash"),
    "gemini-1.5-pro": ("gemini", "gemini-pro"),
    "gemini-2.0-flash": ("gemini", "gemini-flash"),
    "gemini-2.5-flash": ("gemini", "gemini-flash"),
    "gemini-2.5-pro": ("gemini", "gemini-pro"),
    "qwen2.5-coder-7b": ("ollama", "qwen-coder"),
    "qwen2.5-coder-14b": ("ollama", "qwen-coder"),
    "qwen2.5-coder-32b": ("ollama", "qwen-coder"),
    "phi3-mini": ("ollama", "phi"),
    "phi-4-mini": ("ollama", "phi"),
    "deepseek-coder-6.7b": ("ollama", "deepseek-coder"),
    "llama3.1-8b-local": ("ollama", "llama-3.1-8b"),
}

# The current generation users ask for by name: alias -> provider.
CURRENT_GENERATION: dict[str, str] = {
    "gpt-5": "openai",
    "gpt-5-mini": "openai",
    "gpt-5-nano": "openai",
    "gpt-4.1": "openai",
    "gpt-4.1-mini": "openai",
    "gpt-4.1-nano": "openai",
    "gpt-6-sol": "openai",
    "claude-sonnet-4.5": "anthropic",
    "claude-opus-4.5": "anthropic",
    "claude-haiku-4.5": "anthropic",
    "claude-sonnet-5.5": "anthropic",
    "gemini-3.1-pro": "gemini",
    "gemini-3.8-flash": "gemini",
    "groq-gpt-oss-120b": "groq",
    "cerebras-gpt-oss-120b": "cerebras",
    "llama-4-maverick": "openrouter",
    "qwen3-coder": "openrouter",
    "deepseek-r1": "openrouter",
    "deepseek-v4-pro": "deepseek",
}

# Seed 003's policies: name -> (max_cost_per_task, first preferred family, second preferred family).
SEED_POLICIES: dict[str, tuple[float, str, str]] = {
    "normal": (0.10, "gpt-4o-mini", "claude-sonnet"),
    "deep_research": (1.00, "gpt-4o", "claude-opus"),
    "code": (0.50, "gpt-4o", "claude-sonnet"),
    "ops": (0.01, "gpt-3.5-turbo", "claude-haiku"),
}

SEED_AGENTS = (
    "aria_coder",
    "aria_coder_backend",
    "aria_coder_frontend",
    "aria_coder_api",
    "aria_architect",
    "aria_qa",
    "aria_devops",
    "aria_docs",
    "aria_security",
    "aria_researcher",
    "aria_router",
    "aria_validator",
)

# A user with only one of these keys (or only Ollama) must find a model in every chain.
SINGLE_KEY_PROVIDERS = ("openrouter", "groq", "anthropic", "openai", "ollama")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_shipped_catalogue_loads_with_a_model_per_provider(catalog: Catalog) -> None:
    assert 60 <= len(catalog.models) <= 120
    providers_used = {model.provider for model in catalog.models.values()}
    assert providers_used == set(catalog.providers)


@pytest.mark.parametrize(("alias", "expected"), sorted(SEED_FAMILIES.items()))
def test_every_seed_family_is_found_by_the_name_users_type(
    catalog: Catalog, alias: str, expected: tuple[str, str]
) -> None:
    model = catalog.resolve_model(alias)
    assert model is not None, f"no model answers to {alias!r}"
    assert (model.provider, model.family) == expected


@pytest.mark.parametrize(("alias", "provider"), sorted(CURRENT_GENERATION.items()))
def test_current_generation_models_are_found_by_name(catalog: Catalog, alias: str, provider: str) -> None:
    model = catalog.resolve_model(alias)
    assert model is not None, f"no model answers to {alias!r}"
    assert model.provider == provider
    assert not model.deprecated


def test_seed_families_are_also_reachable_through_openrouter(catalog: Catalog) -> None:
    openrouter_families = {m.family for m in catalog.models.values() if m.provider == "openrouter"}
    for family in (
        "llama-3.1-8b",
        "llama-3.3-70b",
        "deepseek-v3",
        "gpt-4o-mini",
        "gpt-4o",
        "o-series",
        "claude-haiku",
        "claude-sonnet",
        "claude-opus",
        "gemini-flash",
        "gemini-pro",
    ):
        assert family in openrouter_families, family


def test_every_paid_model_has_a_price_a_source_url_and_a_date(catalog: Catalog) -> None:
    for model in catalog.models.values():
        if model.tier != "paid":
            continue
        assert model.price_known, model.id
        assert model.input_per_mtok is not None and model.output_per_mtok is not None
        assert model.output_per_mtok > 0, model.id
        assert model.price_source.startswith("https://"), model.id
        assert dt.date(2023, 1, 1) <= model.price_date <= dt.date(2026, 11, 22), model.id


def test_local_and_free_models_cost_nothing_and_say_where_that_comes_from(catalog: Catalog) -> None:
    for model in catalog.models.values():
        if model.tier == "paid":
            continue
        assert model.input_per_mtok == 0 and model.output_per_mtok == 0, model.id
        if model.tier == "local":
            assert model.provider == "ollama" and model.price_source == "local", model.id
        else:
            assert model.price_source.startswith("https://"), model.id
            assert model.requests_per_minute is not None, f"{model.id}: free plan needs its limits"


def test_ollama_models_are_local_and_cloud_models_are_not(catalog: Catalog) -> None:
    for model in catalog.models.values():
        assert (model.tier == "local") == (model.provider == "ollama"), model.id


def test_model_ids_are_provider_slash_model_name(catalog: Catalog) -> None:
    for key, model in catalog.models.items():
        assert key == model.id
        expected = f"{model.provider}/{model.model_name}"
        # A provider's free plan of a billed wire model is told apart by a ":free" suffix.
        assert model.id in (expected, f"{expected}:free"), model.id


def test_aliases_are_unique_and_never_shadow_another_model(catalog: Catalog) -> None:
    owner: dict[str, str] = {}
    for model in catalog.models.values():
        for alias in model.aliases:
            lowered = alias.lower()
            assert lowered not in owner, f"alias {alias!r} on {model.id} and {owner.get(lowered)}"
            owner[lowered] = model.id
    for model in catalog.models.values():
        for name in (model.id.lower(), model.model_name.lower()):
            other = catalog.models[owner.get(name, model.id)]
            # Only a provider's free/paid twin of the same wire model may answer to its name.
            twins = (other.provider, other.model_name) == (model.provider, model.model_name)
            assert other.id == model.id or twins, f"{name!r} is an alias of {other.id}"


def test_every_quality_score_covers_all_capabilities(catalog: Catalog) -> None:
    for model in catalog.models.values():
        assert set(model.quality) == {"code", "reasoning", "general", "long_context", "instruction"}, model.id


def test_seed_quality_ratings_are_kept(catalog: Catalog) -> None:
    def general(alias: str) -> float:
        model = catalog.resolve_model(alias)
        assert model is not None
        return model.score("general")

    assert general("deepseek-v3") == 8.0
    assert general("gpt-4o") == 8.5
    assert general("gemini-1.5-pro") == 8.0
    assert general("claude-3.5-sonnet") == 9.5
    assert general("claude-3-haiku") == 7.5


def test_reasoning_models_are_flagged(catalog: Catalog) -> None:
    for alias in ("o1", "o3", "o3-mini", "o4-mini", "deepseek-r1", "gpt-5"):
        model = catalog.resolve_model(alias)
        assert model is not None and model.reasoning, alias
    for alias in ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4.5", "qwen2.5-coder-7b"):
        model = catalog.resolve_model(alias)
        assert model is not None and not model.reasoning, alias


def test_seed_speeds_hold(catalog: Catalog) -> None:
    def speed(alias: str) -> float:
        model = catalog.resolve_model(alias)
        assert model is not None
        return model.tokens_per_second

    assert speed("cerebras_llama3_1_8b") >= 1800
    assert speed("cerebras_llama3_1_70b") >= 600
    assert speed("qwen2.5-coder-7b") == 60
    assert speed("phi3-mini") == 150
    assert speed("deepseek-coder-6.7b") == 50


def test_every_seed_agent_has_all_three_variant_chains(catalog: Catalog) -> None:
    assert set(SEED_AGENTS) <= set(catalog.agents)
    for agent in catalog.agents.values():
        assert set(agent.variants) == set(VARIANTS), agent.name
        for variant in VARIANTS:
            assert agent.variants[variant], f"{agent.name}.{variant} is empty"
        sentences = [s for s in agent.role_prompt.replace("\n", " ").split(". ") if s.strip()]
        assert 3 <= len(sentences) <= 9, agent.name


def test_chains_name_only_live_models_without_repeats(catalog: Catalog) -> None:
    for agent in catalog.agents.values():
        for variant, chain in agent.variants.items():
            assert len(chain) == len(set(chain)), f"{agent.name}.{variant} repeats a model"
            for model_id in chain:
                assert not catalog.models[model_id].deprecated, f"{agent.name}.{variant}: {model_id}"


@pytest.mark.parametrize("provider", SINGLE_KEY_PROVIDERS)
def test_a_user_with_a_single_key_has_a_model_in_every_chain(catalog: Catalog, provider: str) -> None:
    for agent in catalog.agents.values():
        for variant, chain in agent.variants.items():
            providers = {catalog.models[m].provider for m in chain}
            assert provider in providers, f"{agent.name}.{variant} has no {provider} model"


def _first(catalog: Catalog, agent: str, variant: Variant) -> ModelSpec:
    return catalog.models[catalog.agents[agent].variants[variant][0]]


def test_chains_follow_the_seeds_first_choices(catalog: Catalog) -> None:
    assert _first(catalog, "aria_coder_backend", "speed").provider == "cerebras"
    assert _first(catalog, "aria_coder_backend", "balanced").family == "gpt-4o-mini"
    assert _first(catalog, "aria_qa", "balanced").family == "gpt-4o-mini"
    assert _first(catalog, "aria_coder", "quality").family == "claude-sonnet"
    assert _first(catalog, "aria_architect", "quality").family == "claude-opus"
    assert _first(catalog, "aria_router", "speed").family == "phi"
    assert _first(catalog, "aria_validator", "speed").family == "deepseek-coder"
    algorithm_chain = catalog.agents["aria_coder"].variants["quality"]
    assert any(catalog.models[m].family == "o-series" for m in algorithm_chain)


def test_strategies_carry_the_seed_thresholds(catalog: Catalog) -> None:
    expected = {
        "speed_first": (3, 7),
        "cost_optimized": (4, 6),
        "quality_first": (1, 5),
        "balanced": (3, 7),
    }
    for name, (speed_max, quality_min) in expected.items():
        strategy = catalog.strategies[name]
        assert (strategy.speed_max_complexity, strategy.quality_min_complexity) == (speed_max, quality_min)
        assert strategy.description
    assert catalog.strategies["quality_first"].default_variant == "quality"
    assert catalog.strategy("intelligent_auto") is catalog.strategies["balanced"]


@pytest.mark.parametrize(("name", "expected"), sorted(SEED_POLICIES.items()))
def test_policies_match_seed_003(catalog: Catalog, name: str, expected: tuple[float, str, str]) -> None:
    cap, first_family, second_family = expected
    policy = catalog.policies[name]
    assert policy.max_cost_per_task == cap
    families = [catalog.models[m].family for m in policy.preferred_models]
    assert families == [first_family, second_family]


def test_normal_policy_keeps_the_seed_token_cap_and_temperature(catalog: Catalog) -> None:
    policy = catalog.policies["normal"]
    assert (policy.max_tokens, policy.temperature) == (4000, 0.7)


def test_loading_twice_gives_the_same_catalogue_in_the_same_order() -> None:
    first, second = load_catalog(), load_catalog()
    assert first == second
    assert list(first.models) == list(second.models)
    assert list(first.agents) == list(second.agents)
