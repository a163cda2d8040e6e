"""What a call cost, and where that figure came from.

Order of trust: the provider's own figure (OpenRouter's `usage.cost`, reconciled later from its
`/generation` endpoint), then a user's price override, then the catalogue's prices. Local and
free-tier models cost 0. A paid model whose price nobody knows costs `None` with source
`unknown` — never $0, which is how LiteLLM under-reported spend 150x (PR #35914).

Token convention (see `Usage`): `input_tokens` includes cache reads and writes, `output_tokens`
includes reasoning tokens, so each token is priced exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from server.backends.base import Usage
from server.catalog.schema import ModelSpec

__all__ = [
    "CostResult",
    "CostSource",
    "Prices",
    "compute_cost",
    "estimate_cost",
    "fetch_openrouter_generation_cost",
]

log = logging.getLogger(__name__)

CostSource = Literal["provider_reported", "catalog", "override", "unknown"]
_PER_TOKEN = 1e-6


@dataclass(frozen=True)
class Prices:
    """USD per million tokens; cache prices default to the input price when unknown."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None

    @classmethod
    def of(cls, model: ModelSpec) -> Prices | None:
        """The catalogue prices of a paid model, or None when they are unknown."""
        if model.input_per_mtok is None or model.output_per_mtok is None:
            return None
        return cls(
            model.input_per_mtok, model.output_per_mtok, model.cache_read_per_mtok, model.cache_write_per_mtok
        )

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        written = min(usage.cache_write_tokens, usage.input_tokens - cached)
        fresh = usage.input_tokens - cached - written
        read_price = self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok
        write_price = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        return _PER_TOKEN * (
            fresh * self.input_per_mtok
            + cached * read_price
            + written * write_price
            + usage.output_tokens * self.output_per_mtok
        )


@dataclass
class CostResult:
    """One call's cost (not frozen, as nothing changes it: one is built per call, see
    `server.backends.base.CompletionRequest`)."""

    amount: float | None  # USD; None = unknown (never read as 0)
    source: CostSource


def _is_free(model: ModelSpec) -> bool:
    return model.tier in ("local", "free")


def estimate_cost(model: ModelSpec, input_tokens: int, output_tokens: int) -> float | None:
    """Catalogue cost of a call of this size; 0.0 for local/free models, None if the price is unknown."""
    if _is_free(model):
        return 0.0
    prices = Prices.of(model)
    if prices is None:
        return None
    return prices.cost(Usage(input_tokens=max(0, input_tokens), output_tokens=max(0, output_tokens)))


def compute_cost(
    model: ModelSpec,
    usage: Usage | None,
    provider_cost: float | None,
    override: Prices | None = None,
) -> CostResult:
    """The cost of one finished call and its source.

    `usage` is the provider's usage; when the provider sent none, pass our own estimate as a
    `Usage` (or None, which leaves a paid model's cost unknown).
    """
    if provider_cost is not None and provider_cost >= 0:
        return CostResult(float(provider_cost), "provider_reported")
    if override is not None:
        if usage is None:
            return CostResult(None, "unknown")
        return CostResult(override.cost(usage), "override")
    if _is_free(model):
        return CostResult(0.0, "catalog")
    prices = Prices.of(model)
    if prices is None or usage is None:
        return CostResult(None, "unknown")
    return CostResult(prices.cost(usage), "catalog")


async def fetch_openrouter_generation_cost(
    client: httpx.AsyncClient, base_url: str, api_key: str | None, generation_id: str, timeout_s: float = 10.0
) -> float | None:
    """OpenRouter's final figure for one generation (`GET {base_url}/generation?id=`, `data.total_cost`).

    Returns None when it is not available (yet): OpenRouter needs a moment after a call.
    Never raises for HTTP or body problems, and never puts the key in a log line.
    """
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = base_url.rstrip("/") + "/generation"
    try:
        response = await client.get(url, params={"id": generation_id}, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.debug("openrouter generation %s: %s", generation_id, type(exc).__name__)
        return None
    if response.status_code != 200:
        log.debug("openrouter generation %s: HTTP %s", generation_id, response.status_code)
        return None
    try:
        data: Any = response.json()
    except ValueError:
        return None
    cost = (
        data.get("data", {}).get("total_cost")
        if isinstance(data, dict) and isinstance(data.get("data"), dict)
        else None
    )
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None
