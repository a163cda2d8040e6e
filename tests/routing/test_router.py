"""Model choice inside a variant: chain order, exclusions with reasons, caps, budget modes, estimates.

These use the fixture catalogue (tests/routing/fixtures/manifests) so the expected models are
stable whatever the shipped catalogue holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.analysis import TaskHints, analyze
from server.catalog import Catalog, ModelSpec, load_catalog
from server.catalog.schema import StrategySpec
from server.errors import InputError, NoRouteError
from server.routing import (
    AgentRef,
    Plan,
    Router,
    RouteRequest,
    VariantPreference,
    VariantRecord,
    estimate_cost,
)

FIXTURE_MANIFESTS = Path(__file__).resolve().parent / "fixtures" / "manifests"
SIMPLE = "Create product CRUD operations with basic validation"


def route(
    router: Router,
    description: str = SIMPLE,
    agent: str = "aria_coder_backend",
    variant: str | None = None,
    strategy: str = "speed_first",
    hints: TaskHints | None = None,
    **request: object,
) -> Plan:
    hints = hints or TaskHints()
    ref = AgentRef(agent, variant) if agent else None  # type: ignore[arg-type]
    return router.route(
        RouteRequest(analysis=analyze(description, hints), agent=ref, strategy=strategy, hints=hints, **request)  # type: ignore[arg-type]
    )


@pytest.fixture
def router(fixture_catalog: Catalog) -> Router:
    return Router(fixture_catalog)


def test_first_model_of_the_variant_chain_wins_and_the_rest_are_fallbacks(router: Router) -> None:
    plan = route(router, variant="speed")
    assert (plan.agent_name, plan.model_id) == ("aria_coder_backend_speed", "cerebras/llama3.1-8b")
    assert plan.fallback_model_ids == ("groq/llama-3.1-8b-instant", "ollama/qwen2.5-coder:7b")


def test_escalation_lists_the_higher_variants_and_their_models(router: Router) -> None:
    plan = route(router, variant="speed")
    assert [variant for variant, _ in plan.escalation] == ["balanced", "quality"]
    assert plan.escalation[1][1][0] == "anthropic/claude-sonnet-4-5"
    assert route(router, variant="quality").escalation == ()


def test_deprecated_models_are_skipped_and_explained(router: Router) -> None:
    plan = route(router, variant="quality")
    assert plan.model_id == "anthropic/claude-sonnet-4-5"
    assert "anthropic/claude-3-5-sonnet-20241022" not in plan.fallback_model_ids
    assert "deprecated" in plan.excluded["anthropic/claude-3-5-sonnet-20241022"]


def test_explicit_variant_in_agent_type_wins_over_the_strategy(router: Router) -> None:
    plan = route(router, "Design event-driven architecture with Kafka and sagas", variant="speed")
    assert plan.variant == "speed"
    assert "explicit variant" in plan.rationale


def test_min_variant_raises_the_floor(router: Router) -> None:
    assert route(router, hints=TaskHints(urgent=True)).variant == "speed"
    plan = route(router, hints=TaskHints(urgent=True), min_variant="balanced")
    assert plan.variant == "balanced"
    assert "min_variant" in plan.rationale


@pytest.mark.parametrize("variant", ["speed", "balanced", "quality"])
@pytest.mark.parametrize("agent", ["aria_coder_backend", "aria_coder_api", "aria_architect"])
def test_local_only_never_picks_a_paid_model(fixture_catalog: Catalog, router: Router, agent: str, variant: str) -> None:
    plan = route(router, agent=agent, variant=variant, hints=TaskHints(budget_mode="local_only"))
    assert fixture_catalog.models[plan.model_id].tier == "local"
    assert all(fixture_catalog.models[m].tier == "local" for m in plan.fallback_model_ids)
    assert all(fixture_catalog.models[m].tier == "local" for _, ids in plan.escalation for m in ids)
    assert plan.estimated_cost == 0.0
    assert any("local_only" in reason for reason in plan.excluded.values())


@pytest.mark.parametrize("variant", ["speed", "balanced", "quality"])
def test_over_budget_never_picks_a_paid_model(fixture_catalog: Catalog, router: Router, variant: str) -> None:
    plan = route(router, variant=variant, budget_paused=True)
    assert fixture_catalog.models[plan.model_id].tier != "paid"
    assert any("over budget" in reason for reason in plan.excluded.values())


def test_free_only_allows_free_and_local_models(fixture_catalog: Catalog, router: Router) -> None:
    plan = route(router, variant="speed", hints=TaskHints(budget_mode="free_only"))
    assert plan.model_id == "groq/llama-3.1-8b-instant"
    assert "free_only" in plan.excluded["cerebras/llama3.1-8b"]


def test_a_context_larger_than_a_window_never_picks_that_model(router: Router) -> None:
    plan = route(router, variant="speed", hints=TaskHints(context_tokens=32_000))
    assert plan.model_id == "groq/llama-3.1-8b-instant"
    assert "window of 16384" in plan.excluded["cerebras/llama3.1-8b"]
    assert "window of 32768" in plan.excluded["ollama/qwen2.5-coder:7b"]  # 32,000 + the answer do not fit
    assert plan.input_tokens > 32_000


def test_a_window_with_room_for_the_answer_but_not_the_default_max_tokens_is_used_with_max_tokens_cut(
    tmp_path: Path,
) -> None:
    # A small local model whose output limit equals its window: with the full limit reserved for
    # the answer it could never be offered anything.
    (tmp_path / "overlay.toml").write_text(
        '[[models]]\nid = "ollama/tiny:4k"\nprovider = "ollama"\nmodel_name = "tiny:4k"\nfamily = "tiny"\n'
        'tier = "local"\ncontext_window = 4096\nmax_output_tokens = 4096\ntokens_per_second = 50\n'
        'quality = { code = 5.0 }\nprice_source = "local"\nprice_date = 2025-06-01\n\n'
        '[[agents]]\nname = "aria_qa"\nvariants.speed = ["ollama/tiny:4k", "groq/llama-3.1-8b-instant"]\n'
        'variants.balanced = ["openai/gpt-4o-mini"]\nvariants.quality = ["anthropic/claude-sonnet-4-5"]\n',
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path, base=FIXTURE_MANIFESTS)
    small = route(Router(catalog), "Fix a typo in the README", agent="aria_qa", variant="speed")
    assert small.model_id == "ollama/tiny:4k"
    assert small.input_tokens + small.max_tokens <= 4096
    assert small.max_tokens >= small.output_tokens
    big = route(Router(catalog), "Fix a typo in the README", agent="aria_qa", variant="speed",
                hints=TaskHints(context_tokens=3_900))
    assert big.model_id == "groq/llama-3.1-8b-instant"
    assert "exceeds its window of 4096 tokens" in big.excluded["ollama/tiny:4k"]


def test_a_context_too_large_for_every_model_is_a_no_route_error(router: Router) -> None:
    with pytest.raises(NoRouteError) as info:
        route(router, variant="speed", hints=TaskHints(context_tokens=5_000_000))
    assert "exceeds its window" in str(info.value)


def test_per_task_cap_excludes_models_over_it(router: Router) -> None:
    uncapped = route(router, variant="quality", strategy="balanced")
    assert uncapped.model_id == "anthropic/claude-sonnet-4-5"
    cap = uncapped.estimated_cost / 2
    capped = route(router, variant="quality", strategy="balanced", max_cost=cap)
    assert capped.model_id != "anthropic/claude-sonnet-4-5"
    assert capped.estimated_cost <= cap
    assert "per-task cap" in capped.excluded["anthropic/claude-sonnet-4-5"]


def test_the_policy_cap_and_token_cap_apply(router: Router) -> None:
    plan = route(router, variant="quality", strategy="balanced", policy="ops")
    assert plan.max_tokens == 1000
    assert plan.estimated_cost <= 0.01
    assert plan.temperature == 0.0


def test_when_nothing_fits_the_cap_the_cheapest_is_chosen_and_the_plan_says_so(router: Router) -> None:
    # 140k tokens of context leave only paid long-context models, all over a tiny cap.
    plan = route(router, variant="quality", strategy="balanced", hints=TaskHints(context_tokens=140_000), max_cost=1e-6)
    assert plan.estimated_cost > 1e-6
    assert "no allowed model fits the per-task cap" in plan.rationale
    assert plan.model_id not in plan.excluded


def test_cost_optimized_prefers_the_cheapest_adequate_model(router: Router) -> None:
    assert route(router, agent="aria_coder", variant="speed", strategy="speed_first").model_id == "cerebras/llama3.1-8b"
    plan = route(router, agent="aria_coder", variant="speed", strategy="cost_optimized")
    assert plan.model_id == "groq/llama-3.1-8b-instant"  # free, and as good as the chain's first choice
    assert plan.estimated_cost == 0.0


def test_estimates_follow_catalogue_prices_and_speeds(fixture_catalog: Catalog, router: Router) -> None:
    plan = route(router, variant="quality", strategy="balanced")
    model = fixture_catalog.models[plan.model_id]
    expected = (plan.input_tokens * 3.00 + plan.output_tokens * 15.00) / 1_000_000
    assert plan.estimated_cost == pytest.approx(expected, abs=1e-6)
    assert estimate_cost(model, plan.input_tokens, plan.output_tokens) == pytest.approx(expected)
    assert plan.estimated_time == pytest.approx(model.first_token_seconds + plan.output_tokens / model.tokens_per_second, abs=0.01)
    assert plan.output_tokens <= plan.max_tokens


def test_reasoning_models_bill_hidden_reasoning_tokens(fixture_catalog: Catalog) -> None:
    o3_mini = fixture_catalog.models["openai/o3-mini"]
    assert estimate_cost(o3_mini, 0, 1000) == pytest.approx(2 * 1000 * 4.40 / 1_000_000)


def test_unavailable_providers_are_excluded_only_when_availability_is_required(fixture_catalog: Catalog) -> None:
    def availability(model: ModelSpec) -> str | None:
        return "CEREBRAS_API_KEY is not set" if model.provider == "cerebras" else None

    router = Router(fixture_catalog, availability=availability)
    required = route(router, variant="speed", require_available=True)
    assert required.model_id == "groq/llama-3.1-8b-instant"
    assert required.excluded["cerebras/llama3.1-8b"] == "CEREBRAS_API_KEY is not set"
    advisory = route(router, variant="speed")
    assert advisory.model_id == "cerebras/llama3.1-8b"
    assert any("CEREBRAS_API_KEY" in note for note in advisory.notes)


class DemoteCerebras:
    """A performance view in which Cerebras has been failing lately."""

    def __init__(self) -> None:
        self.strategies: list[str | None] = []

    def score_adjustment(self, model_id: str, task_type: str, strategy: StrategySpec | None = None) -> float:
        self.strategies.append(strategy.name if strategy else None)
        return -1.0 if model_id.startswith("cerebras/") else 0.0

    def note(self, model_id: str, task_type: str) -> str | None:
        return f"{model_id}: no recent failures"

    def variant_evidence(self, task_type: str, variant: str, repo: str | None = None) -> VariantRecord | None:
        return None

    def preferred_variant(
        self, task_type: str, strategy: StrategySpec | None = None, repo: str | None = None
    ) -> VariantPreference | None:
        return None


def test_performance_evidence_reorders_the_chain_weighed_by_the_strategy(fixture_catalog: Catalog) -> None:
    view = DemoteCerebras()
    plan = route(Router(fixture_catalog, performance=view), variant="speed")
    assert set(view.strategies) == {plan.strategy}  # score_adjustment is told the strategy
    assert plan.model_id == "groq/llama-3.1-8b-instant"
    assert plan.fallback_model_ids[-1] == "cerebras/llama3.1-8b"
    assert "groq/llama-3.1-8b-instant: no recent failures" in plan.notes


def test_a_whole_chain_left_out_falls_back_to_other_variants_then_the_catalogue(fixture_catalog: Catalog) -> None:
    router = Router(fixture_catalog)
    plan = route(router, agent="aria_coder_api", variant="quality", hints=TaskHints(budget_mode="local_only"))
    assert plan.variant == "quality"
    assert fixture_catalog.models[plan.model_id].tier == "local"
    assert "catalogue" in plan.rationale


def test_unknown_price_is_excluded_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "overlay.toml").write_text(
        '[[models]]\nid = "openai/mystery"\nprovider = "openai"\nmodel_name = "mystery"\nfamily = "mystery"\n'
        'tier = "paid"\ncontext_window = 128000\nmax_output_tokens = 8192\ntokens_per_second = 50\n'
        'quality = { code = 9.9 }\nprice_source = "unknown"\nprice_date = 2025-06-01\n\n'
        '[[agents]]\nname = "aria_qa"\nvariants.speed = ["groq/llama-3.1-8b-instant"]\n'
        'variants.balanced = ["openai/gpt-4o-mini"]\nvariants.quality = ["openai/mystery", "anthropic/claude-sonnet-4-5"]\n',
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path, base=FIXTURE_MANIFESTS)
    strict = route(Router(catalog), agent="aria_qa", variant="quality")
    assert strict.model_id == "anthropic/claude-sonnet-4-5"
    assert "price unknown" in strict.excluded["openai/mystery"]
    assert route(Router(catalog, allow_unknown_prices=True), agent="aria_qa", variant="quality").model_id == "openai/mystery"


def test_agent_is_chosen_by_task_type_when_none_is_named(router: Router) -> None:
    plan = route(router, "Write unit tests for the date formatting helpers", agent="")
    assert plan.agent == "aria_qa"


def test_worker_label_is_kept_in_the_agent_name(router: Router) -> None:
    plan = router.route(
        RouteRequest(analysis=analyze(SIMPLE), agent=AgentRef("aria_coder", "quality", "1"), strategy="balanced")
    )
    assert plan.agent_name == "aria_coder_quality_1"


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [({"strategy": "fastest"}, "routing_strategy"), ({"policy": "lavish"}, "policy")],
)
def test_unknown_strategy_or_policy_is_an_input_error_naming_the_field(
    router: Router, request_fields: dict[str, str], field: str
) -> None:
    with pytest.raises(InputError) as info:
        router.route(RouteRequest(analysis=analyze(SIMPLE), agent=AgentRef("aria_coder"), **request_fields))  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.accepted


def test_with_no_provider_usable_the_error_gives_each_cause_once_with_the_models_it_leaves_out(
    fixture_catalog: Catalog,
) -> None:
    def no_keys(model: ModelSpec) -> str:
        provider = model.id.split("/")[0]
        return f"no {provider.upper()}_API_KEY set"

    router = Router(fixture_catalog, availability=no_keys)
    with pytest.raises(NoRouteError) as info:
        route(router, variant="speed", require_available=True)
    message = str(info.value)
    providers = {str(m.id).split("/")[0] for m in fixture_catalog.models.values()}
    for provider in providers:
        assert message.count(f"no {provider.upper()}_API_KEY set") == 1, message
    one_by_one = "; ".join(f"{m}: {no_keys(m)}" for m in fixture_catalog.models.values())
    assert len(message) < len(one_by_one), message
