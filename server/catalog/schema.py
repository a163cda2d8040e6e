"""The manifest schema: pydantic models for models, providers, agents, strategies and policies.

Manifests are data (TOML files under `manifests/`); these models are their contract. They are
validated once at load time and then treated as read-only by the engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CAPABILITIES",
    "VARIANTS",
    "AgentSpec",
    "Catalog",
    "ModelSpec",
    "PolicySpec",
    "ProviderSpec",
    "StrategySpec",
    "Tier",
    "Variant",
]

Tier = Literal["local", "free", "paid"]
Variant = Literal["speed", "balanced", "quality"]
VARIANTS: tuple[Variant, ...] = ("speed", "balanced", "quality")
# Capabilities a model is scored on (0-10) and an agent can need.
CAPABILITIES: tuple[str, ...] = ("code", "reasoning", "general", "long_context", "instruction")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSpec(_Strict):
    """A backend endpoint: how to reach it and how hard we may push it."""

    name: str
    protocol: str = Field(
        description="Wire protocol, a key of server.backends.registry.BACKENDS: 'openai' (OpenAI-compatible "
        "chat completions), 'anthropic' (Messages) or 'ollama' (native chat)."
    )
    base_url: str
    key_env: str | None = Field(None, description="Environment variable holding the API key; None = no key.")
    base_url_env: str | None = Field(None, description="Environment variable that overrides base_url.")
    local: bool = False
    max_concurrent: int | None = Field(None, ge=1, description="Concurrent requests allowed; None = no limit.")
    max_concurrent_per_model: int | None = Field(
        None, ge=1, description="Concurrent requests per model (Ollama serves one at a time by default)."
    )
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    reports_cost: bool = Field(False, description="The provider returns its own cost in usage (OpenRouter).")
    extra_headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        # The backends' own table is the one list of protocols (imported late: it imports this module).
        from server.backends.registry import BACKENDS

        if value not in BACKENDS:
            raise ValueError(f"unknown protocol {value!r}; accepted: {', '.join(sorted(BACKENDS))}")
        return value


class ModelSpec(_Strict):
    """One model as one provider serves it, with prices in USD per million tokens."""

    id: str = Field(description="Our id, e.g. 'groq/llama-3.1-8b-instant'.")
    provider: str
    model_name: str = Field(description="The provider's own model name, sent on the wire.")
    family: str = Field(description="Model family, e.g. 'llama-3.1-8b', 'claude-sonnet'.")
    display_name: str = ""
    tier: Tier
    input_per_mtok: float | None = Field(None, ge=0, description="None = price unknown.")
    output_per_mtok: float | None = Field(None, ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0)
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    tokens_per_second: float = Field(gt=0, description="Typical output speed, for time estimates.")
    first_token_seconds: float = Field(0.5, ge=0, description="Typical latency before the first token.")
    quality: dict[str, float] = Field(description="Capability -> score 0-10.")
    reasoning: bool = Field(False, description="A reasoning model (o1/o3 class); bills hidden reasoning tokens.")
    tool_calling: bool = Field(
        False, description="Known to take tools and answer with tool calls (agent mode needs it)."
    )
    aliases: list[str] = Field(default_factory=list, description="Names users may ask for, e.g. 'sonnet'.")
    price_source: str = Field(description="Where the prices come from (URL or 'local').")
    price_date: dt.date
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    deprecated: bool = False

    @field_validator("quality")
    @classmethod
    def _scores_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for capability, score in value.items():
            if capability not in CAPABILITIES:
                raise ValueError(f"unknown capability {capability!r}; accepted: {', '.join(CAPABILITIES)}")
            if not 0 <= score <= 10:
                raise ValueError(f"score for {capability!r} must be within 0-10, got {score}")
        return value

    @model_validator(mode="after")
    def _local_is_free(self) -> ModelSpec:
        if self.tier == "paid" and (self.input_per_mtok is None) != (self.output_per_mtok is None):
            raise ValueError("give both input_per_mtok and output_per_mtok, or neither (price unknown)")
        return self

    @property
    def price_known(self) -> bool:
        return self.tier != "paid" or (self.input_per_mtok is not None and self.output_per_mtok is not None)

    def score(self, capability: str) -> float:
        return self.quality.get(capability, self.quality.get("general", 5.0))


class AgentSpec(_Strict):
    """An agent type (e.g. `aria_coder_backend`) with its role and a model chain per variant."""

    name: str
    description: str = ""
    role_prompt: str
    capability: str = Field("code", description="The capability this agent's work leans on.")
    task_types: list[str] = Field(default_factory=list, description="Task types it is usually given.")
    variants: dict[Variant, list[str]] = Field(
        description="Variant -> ordered model ids (first choice, then fallbacks)."
    )

    @field_validator("variants")
    @classmethod
    def _all_variants(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        missing = [v for v in VARIANTS if not value.get(v)]
        if missing:
            raise ValueError(f"every variant needs a non-empty model chain; missing: {', '.join(missing)}")
        return value


class StrategySpec(_Strict):
    """A routing strategy: how cost, speed and quality are weighed, and its variant thresholds."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    weight_cost: float = Field(ge=0)
    weight_speed: float = Field(ge=0)
    weight_quality: float = Field(ge=0)
    speed_max_complexity: int = Field(ge=1, le=10, description="At or below this, `speed` is preferred.")
    quality_min_complexity: int = Field(ge=1, le=10, description="Above this, `quality` is required.")
    default_variant: Variant = "balanced"


class PolicySpec(_Strict):
    """A routing policy (the seed's normal / deep_research / code / ops) with caps per task."""

    name: str
    description: str = ""
    max_cost_per_task: float = Field(gt=0)
    max_tokens: int = Field(gt=0)
    temperature: float = Field(ge=0, le=2)
    preferred_models: list[str] = Field(default_factory=list)
    agent_task_types: list[str] = Field(
        default_factory=list,
        description="Kinds of work that run in agent mode by default when the task names a workspace "
        "(a task's own mode wins).",
    )


class Catalog(_Strict):
    """Everything the router reads, validated and cross-checked."""

    providers: dict[str, ProviderSpec]
    models: dict[str, ModelSpec]
    agents: dict[str, AgentSpec]
    strategies: dict[str, StrategySpec]
    policies: dict[str, PolicySpec]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        for model in self.models.values():
            if model.provider not in self.providers:
                raise ValueError(f"models.{model.id}.provider: unknown provider {model.provider!r}")
        for agent in self.agents.values():
            for variant, chain in agent.variants.items():
                for model_id in chain:
                    if model_id not in self.models:
                        raise ValueError(
                            f"agents.{agent.name}.variants.{variant}: unknown model {model_id!r}"
                        )
        for policy in self.policies.values():
            for model_id in policy.preferred_models:
                if model_id not in self.models:
                    raise ValueError(f"policies.{policy.name}.preferred_models: unknown model {model_id!r}")
        return self

    def strategy(self, name: str) -> StrategySpec | None:
        if name in self.strategies:
            return self.strategies[name]
        for strategy in self.strategies.values():
            if name in strategy.aliases:
                return strategy
        return None

    def strategy_names(self) -> list[str]:
        names = list(self.strategies)
        for strategy in self.strategies.values():
            names.extend(strategy.aliases)
        return names

    def resolve_model(self, name: str) -> ModelSpec | None:
        """A model by id, provider model name, or alias (case-insensitive)."""
        if name in self.models:
            return self.models[name]
        lowered = name.lower()
        for model in self.models.values():
            if lowered == model.model_name.lower() or lowered in (a.lower() for a in model.aliases):
                return model
        return None
