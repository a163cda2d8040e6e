"""Cost of a call and where the figure came from; OpenRouter reconciliation."""

from __future__ import annotations

import httpx
import pytest

from server.backends.anthropic import AnthropicBackend
from server.backends.base import Usage
from server.backends.openai_compat import OpenAICompatBackend
from server.backends.pricing import (
    CostResult,
    Prices,
    compute_cost,
    estimate_cost,
    fetch_openrouter_generation_cost,
)
from tests.backends.helpers import KEY, make_model, make_request
from tests.support import LoopbackProvider, Reply

PAID = make_model(
    "claude",
    "anthropic",
    input_per_mtok=3.0,
    output_per_mtok=15.0,
    cache_read_per_mtok=0.3,
    cache_write_per_mtok=3.75,
)


def test_provider_reported_cost_comes_first() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    assert compute_cost(PAID, usage, provider_cost=0.5) == CostResult(0.5, "provider_reported")


def test_provider_reported_zero_is_kept() -> None:
    assert compute_cost(PAID, Usage(input_tokens=10), provider_cost=0.0) == CostResult(
        0.0, "provider_reported"
    )


def test_catalogue_prices_cache_reads_and_writes_at_their_own_price() -> None:
    usage = Usage(
        input_tokens=1_000_000, output_tokens=100_000, cached_input_tokens=600_000, cache_write_tokens=100_000
    )
    result = compute_cost(PAID, usage, provider_cost=None)
    expected = 0.3 * 3.0 + 0.6 * 0.3 + 0.1 * 3.75 + 0.1 * 15.0
    assert result.source == "catalog"
    assert result.amount == pytest.approx(expected)


def test_reasoning_tokens_are_priced_once_as_output() -> None:
    model = make_model("o3", "openai", input_per_mtok=2.0, output_per_mtok=8.0, reasoning=True)
    with_reasoning = Usage(input_tokens=0, output_tokens=1_000_000, reasoning_tokens=900_000)
    assert compute_cost(model, with_reasoning, None).amount == pytest.approx(8.0)


def test_unknown_cache_price_falls_back_to_the_input_price() -> None:
    model = make_model("m", input_per_mtok=1.0, output_per_mtok=2.0)
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000)
    assert compute_cost(model, usage, None).amount == pytest.approx(1.0)


def test_paid_model_with_unknown_price_is_unknown_never_zero() -> None:
    model = make_model("mystery", input_per_mtok=None, output_per_mtok=None)
    result = compute_cost(model, Usage(input_tokens=1000, output_tokens=1000), None)
    assert result == CostResult(None, "unknown")
    assert estimate_cost(model, 1000, 1000) is None


def test_paid_model_without_usage_or_provider_figure_is_unknown() -> None:
    assert compute_cost(PAID, None, None) == CostResult(None, "unknown")


@pytest.mark.parametrize("tier", ["local", "free"])
def test_local_and_free_models_cost_zero_from_the_catalogue(tier: str) -> None:
    model = make_model("llama", "ollama", tier=tier)
    assert compute_cost(model, Usage(input_tokens=5000, output_tokens=5000), None) == CostResult(
        0.0, "catalog"
    )
    assert compute_cost(model, None, None) == CostResult(0.0, "catalog")
    assert estimate_cost(model, 5000, 5000) == 0.0


def test_override_prices_beat_the_catalogue_but_not_the_provider() -> None:
    override = Prices(input_per_mtok=10.0, output_per_mtok=20.0)
    usage = Usage(input_tokens=100_000, output_tokens=100_000)
    assert compute_cost(PAID, usage, None, override) == CostResult(pytest.approx(3.0), "override")  # type: ignore[arg-type]
    assert compute_cost(PAID, usage, 0.01, override).source == "provider_reported"


def test_estimate_cost_uses_catalogue_prices() -> None:
    assert estimate_cost(PAID, 1_000_000, 1_000_000) == pytest.approx(18.0)


async def test_anthropic_stream_usage_is_priced_with_cache_prices(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=1_000_000)
    lp.script("claude", [Reply("x", usage=usage)])
    done = await AnthropicBackend(client).complete(make_request(lp.base_url, "claude", protocol="anthropic"))
    assert compute_cost(PAID, done.usage, done.provider_cost).amount == pytest.approx(0.3)


async def test_openrouter_generation_cost_is_fetched(lp: LoopbackProvider, client: httpx.AsyncClient) -> None:
    lp.script("model-x", [Reply("x", cost=0.002, generation_id="gen-or-1")])
    request = make_request(lp.openrouter_url, provider_fields={"reports_cost": True})
    done = await OpenAICompatBackend(client).complete(request)
    assert done.generation_id == "gen-or-1"
    lp.set_generation_cost("gen-or-1", 0.0025)  # OpenRouter's final, reconciled figure
    cost = await fetch_openrouter_generation_cost(client, lp.openrouter_url, KEY, "gen-or-1")
    assert cost == pytest.approx(0.0025)
    lookup = lp.requests[-1]
    assert lookup.path == "/api/v1/generation" and lookup.query == "id=gen-or-1"
    assert lookup.headers["authorization"] == f"Bearer {KEY}"


async def test_unknown_generation_or_dead_server_gives_none(
    lp: LoopbackProvider, client: httpx.AsyncClient
) -> None:
    assert await fetch_openrouter_generation_cost(client, lp.openrouter_url, KEY, "nope") is None
    assert await fetch_openrouter_generation_cost(client, "http://127.0.0.1:9/api/v1", KEY, "x") is None
