"""The router: analysed task + strategy + policy + budget + model health -> `Plan`.

Choosing the model inside the chosen variant:

1. The agent's chain for that variant, in manifest order. A model is left out (and `excluded`
   says why) when it is deprecated, its tier is not allowed (local-only, free-only, paid models
   paused over budget), its price is unknown (unless allowed), the prompt plus the answer it is
   expected to need does not fit its context window (`max_tokens` is cut to the room left), or
   (when `require_available`) its provider is unusable.
2. Performance evidence may re-order the chain; `cost_optimized` re-orders it cheapest first.
3. Models whose estimate passes the per-task cap (the tighter of the policy's and the caller's)
   are left out unless nothing else fits anywhere, and then the plan says so.
4. If the whole chain is left out: the agent's other variants (going up first), then the best
   allowed models in the catalogue for the agent's capability.

Choosing the variant: the strategy's rules (`variants.choose_variant`), the high-stakes floor,
the caller's `min_variant`; then, unless the caller pinned a variant, what was learned: a task
whose answer will be checked starts where try-check-escalate is cheapest in expectation
(`escalation.plan_by_checks`, with pass rates learned per kind of task and variant, and per
repository when the task names a workspace), and an unchecked task starts above a variant that
keeps failing its kind (`escalation.learned_raise`, towards the tracker's `preferred_variant`).
What was learned comes through the typed `PerformanceView` port (`server.routing.types`).

Everything that does not depend on the request is computed once in `__init__`, so a routing
decision touches only the handful of models in the chains it considers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from server.analysis.tokens import count_tokens
from server.catalog.limits import ceiling_words, request_ceiling
from server.catalog.schema import VARIANTS, AgentSpec, Catalog, ModelSpec, PolicySpec, StrategySpec, Variant
from server.errors import InputError, NoRouteError
from server.routing.agents import accepted_agent_names
from server.routing.costs import estimate_cost, estimate_time
from server.routing.escalation import (
    CheckDecision,
    VariantOption,
    learned_raise,
    pass_rate,
    plan_by_checks,
    prior_pass_rate,
    repo_pass_rate,
)
from server.routing.types import AgentRef, Availability, PerformanceView, Plan, RouteRequest
from server.routing.variants import (
    HIGH_STAKES_RISKS,
    RISK_FLOOR,
    apply_risk_floor,
    choose_variant,
    raise_to_floor,
)

__all__ = ["ADEQUACY_MARGIN", "MESSAGE_OVERHEAD_TOKENS", "Router"]

# Chat framing around the system and user messages (role markers, separators).
MESSAGE_OVERHEAD_TOKENS = 12
# Answer budget when no policy caps it and the model's own limit is larger.
DEFAULT_MAX_TOKENS = 8192
MIN_ANSWER_TOKENS = 256  # a model left less room than this for its answer is not offered
# cost_optimized may move a model ahead only if it scores within this of the first choice.
ADEQUACY_MARGIN = 0.5
_FILL_IN_KEEP = 4  # catalogue-wide candidates kept when a whole agent is left out
_TIER_SETS: dict[str, frozenset[str]] = {
    "all": frozenset({"local", "free", "paid"}),
    "no_paid": frozenset({"local", "free"}),
    "local": frozenset({"local"}),
}
# Where to look when the chosen variant's chain is all left out: nearest first, upwards first.
_OTHER_VARIANTS: dict[str, tuple[Variant, ...]] = {
    "speed": ("balanced", "quality"),
    "balanced": ("quality", "speed"),
    "quality": ("balanced", "speed"),
}


def _grouped_reasons(excluded: dict[str, str], named: int = 2) -> str:
    """Why no model was left, one entry per reason (`no GROQ_API_KEY set (groq/a, groq/b and 3
    more)`), in the order first met: the whole catalogue can be left out for a few causes, and a
    model-by-model list of them runs to thousands of characters."""
    if not excluded:
        return "no models configured"
    by_reason: dict[str, list[str]] = {}
    for model, reason in excluded.items():
        by_reason.setdefault(reason, []).append(model)
    parts = []
    for reason, models in by_reason.items():
        if len(models) == 1:
            parts.append(f"{models[0]}: {reason}")
        else:
            more = f" and {len(models) - named} more" if len(models) > named else ""
            parts.append(f"{reason} ({', '.join(models[:named])}{more})")
    return "; ".join(parts)


def _best_first(capability: str) -> Callable[[ModelSpec], tuple[float, float]]:
    def key(model: ModelSpec) -> tuple[float, float]:
        return (-model.score(capability), model.input_per_mtok or 0.0)

    return key


@dataclass(slots=True)
class _Candidate:
    model: ModelSpec
    cost: float
    output_tokens: int
    max_tokens: int


class Router:
    """Routes analysed tasks over one catalogue. Build once; `route` is cheap and thread-safe."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        availability: Availability | None = None,
        performance: PerformanceView | None = None,
        allow_unknown_prices: bool = False,
    ) -> None:
        self.catalog = catalog
        self._availability = availability
        self._performance = performance
        self._strategies: dict[str, StrategySpec] = {}
        for strategy in catalog.strategies.values():
            self._strategies[strategy.name] = strategy
            for alias in strategy.aliases:
                self._strategies.setdefault(alias, strategy)
        self._agents: dict[str, AgentSpec] = dict(catalog.agents)
        self._chains: dict[str, dict[str, tuple[ModelSpec, ...]]] = {
            name: {v: tuple(catalog.models[m] for m in dict.fromkeys(agent.variants[v])) for v in VARIANTS}
            for name, agent in catalog.agents.items()
        }
        # Counted on first use, so building a router never waits for the tokenizer to load.
        self._role_tokens: dict[str, int] = {}
        self._static_reason: dict[str, str] = {}
        for model in catalog.models.values():
            if model.deprecated:
                self._static_reason[model.id] = "deprecated: retired by its provider"
            elif not model.price_known and not allow_unknown_prices:
                self._static_reason[model.id] = "price unknown (set allow_unknown_prices to use it)"
        self._agent_for_kind: dict[str, str] = {}
        for name, agent in catalog.agents.items():
            for kind in agent.task_types:
                self._agent_for_kind.setdefault(kind, name)
        self._default_agent = "aria_coder" if "aria_coder" in catalog.agents else min(catalog.agents, default="")
        # Catalogue-wide fill-in pools, best first for each capability an agent leans on.
        self._pools: dict[tuple[str, str], tuple[ModelSpec, ...]] = {}
        usable = [m for m in catalog.models.values() if m.id not in self._static_reason]
        for capability in {agent.capability for agent in catalog.agents.values()}:
            for key, tiers in _TIER_SETS.items():
                pool = [m for m in usable if m.tier in tiers]
                self._pools[(capability, key)] = tuple(sorted(pool, key=_best_first(capability)))

    # -- lookups -------------------------------------------------------------------------

    def strategy(self, name: str) -> StrategySpec:
        """Raises: InputError naming `routing_strategy` and the accepted names."""
        try:
            return self._strategies[name]
        except KeyError:
            accepted = ", ".join(self._strategies)
            raise InputError("routing_strategy", f"unknown strategy {name!r}", accepted) from None

    def policy(self, name: str | None) -> PolicySpec | None:
        """Raises: InputError naming `policy` and the accepted names."""
        if name is None:
            return None
        try:
            return self.catalog.policies[name]
        except KeyError:
            accepted = ", ".join(self.catalog.policies)
            raise InputError("policy", f"unknown policy {name!r}", accepted) from None

    def agent_for(self, task_type: str) -> str:
        """The agent a task of this type goes to when the caller names none."""
        return self._agent_for_kind.get(task_type, self._default_agent)

    # -- routing -------------------------------------------------------------------------

    def _role_tokens_of(self, agent: AgentSpec) -> int:
        tokens = self._role_tokens.get(agent.name)
        if tokens is None:
            tokens = self._role_tokens[agent.name] = count_tokens(agent.role_prompt)
        return tokens

    def route(self, request: RouteRequest) -> Plan:
        """Decide variant and model for one task.

        Raises:
            InputError: unknown strategy, policy or agent.
            NoRouteError: every model the agent could use is left out; the message says why.
        """
        analysis, hints = request.analysis, request.hints
        strategy = self.strategy(request.strategy)
        policy = self.policy(request.policy)
        ref = request.agent or AgentRef(self.agent_for(analysis.task_type))
        agent = self._agents.get(ref.agent)
        if agent is None:
            raise InputError("agent_type", f"unknown agent type {ref.agent!r}", accepted_agent_names(self.catalog))

        pinned = ref.variant is not None
        if ref.variant is not None:
            variant, why = ref.variant, "explicit variant in agent_type"
        else:
            variant, why = choose_variant(strategy, analysis, hints, agent.name)
            variant, why = apply_risk_floor(variant, why, analysis)
        floored = raise_to_floor(variant, request.min_variant)
        if floored != variant:
            variant, why = floored, f"{why}; raised to min_variant {floored}"
        lowest: Variant = request.min_variant or VARIANTS[0]
        if not pinned and HIGH_STAKES_RISKS.intersection(analysis.risks):
            lowest = raise_to_floor(lowest, RISK_FLOOR)

        if request.local_only or hints.budget_mode == "local_only":
            tier_key, tier_why = "local", "budget_mode local_only: only local models"
        elif request.budget_paused:
            tier_key, tier_why = "no_paid", "over budget: paid models are paused"
        elif request.free_only or hints.budget_mode == "free_only":
            tier_key, tier_why = "no_paid", "budget_mode free_only: no paid models"
        else:
            tier_key, tier_why = "all", ""
        tiers = _TIER_SETS[tier_key]
        caps = [c for c in (request.max_cost, policy.max_cost_per_task if policy else None) if c is not None]
        cap = min(caps) if caps else None
        policy_max = policy.max_tokens if policy else None
        input_tokens = analysis.input_tokens + self._role_tokens_of(agent) + MESSAGE_OVERHEAD_TOKENS
        excluded: dict[str, str] = {}

        def admit(model: ModelSpec) -> _Candidate | None:
            reason = self._static_reason.get(model.id)
            if reason is None and model.tier not in tiers:
                reason = f"{model.tier} model not allowed: {tier_why}"
            # The answer may be cut to the room one request leaves (the window, or a per-minute
            # limit below it), never below what it is expected to need (a 4k-window local model
            # still takes a small task).
            limit = min(model.max_output_tokens, policy_max or DEFAULT_MAX_TOKENS)
            ceiling = request_ceiling(model, self.catalog)
            max_tokens = min(limit, ceiling - input_tokens)
            needed = min(limit, max(analysis.output_tokens, MIN_ANSWER_TOKENS))
            if reason is None and max_tokens < needed:
                reason = (f"context {input_tokens} + an answer of about {needed} tokens exceeds "
                          f"{ceiling_words(model, ceiling)}")
            if reason is None and request.require_available and self._availability is not None:
                reason = self._availability(model)
            if reason is not None:
                excluded.setdefault(model.id, reason)
                return None
            output_tokens = min(analysis.output_tokens, max_tokens)
            cost = estimate_cost(model, input_tokens, output_tokens) or 0.0
            return _Candidate(model, cost, output_tokens, max_tokens)

        def rank(models: Iterable[ModelSpec], limit: int | None = None) -> list[_Candidate]:
            found: list[_Candidate] = []
            for model in models:
                candidate = admit(model)
                if candidate is not None:
                    found.append(candidate)
                    if limit is not None and len(found) >= limit:
                        break
            if self._performance is not None and len(found) > 1:
                perf = self._performance
                found.sort(key=lambda c: -perf.score_adjustment(c.model.id, analysis.task_type, strategy))
            if strategy.name == "cost_optimized" and found:
                # Cheapest first among the adequate: within ADEQUACY_MARGIN of the chain's first
                # choice on the agent's capability; the chain's weaker tail keeps its place after.
                floor = found[0].model.score(agent.capability) - ADEQUACY_MARGIN
                adequate = [c for c in found if c.model.score(agent.capability) >= floor]
                adequate.sort(key=lambda c: c.cost)
                found = adequate + [c for c in found if c.model.score(agent.capability) < floor]
            return found

        chains = self._chains[agent.name]
        check: CheckDecision | None = None
        if not pinned:
            rates = self._pass_rates(analysis.task_type, analysis.complexity, request.repo)
            if request.checked:
                options = []
                for option_variant in VARIANTS[VARIANTS.index(lowest) :]:
                    heads = rank(chains[option_variant], 1)
                    if heads:
                        head = heads[0]
                        rate, evidence, in_repo = rates[option_variant]
                        options.append(
                            VariantOption(
                                option_variant, head.cost, estimate_time(head.model, head.output_tokens), rate,
                                evidence, in_repo,
                            )
                        )
                if options:
                    check = plan_by_checks(options)
                    if check.start != variant:
                        why = f"{why}; checked: start at {check.start} instead"
                    variant = check.start
            else:
                raised = learned_raise(variant, rates)
                if raised is not None:
                    target, reason = raised
                    advice = self._preferred(analysis.task_type, strategy, request.repo)
                    if advice is not None and VARIANTS.index(advice) > VARIANTS.index(target):
                        target, reason = advice, f"{reason}; {advice} is the learned preference for this kind"
                    variant, why = target, f"{why}; {reason}"
        stages: list[tuple[str, Sequence[ModelSpec], int | None]] = [(f"{agent.name}_{variant} chain", chains[variant], None)]
        stages += [(f"{agent.name}_{other} chain", chains[other], None) for other in _OTHER_VARIANTS[variant]]
        stages.append(("catalogue", self._pools[(agent.capability, tier_key)], _FILL_IN_KEEP))

        notes: list[str] = []
        chosen: list[_Candidate] = []
        source = ""
        first_over_cap: tuple[str, list[_Candidate]] | None = None
        for label, models, limit in stages:
            ranked = rank(models, limit)
            if not ranked:
                continue
            fits = ranked if cap is None else [c for c in ranked if c.cost <= cap]
            for candidate in ranked:
                if cap is not None and candidate.cost > cap:
                    excluded.setdefault(
                        candidate.model.id, f"estimate ${candidate.cost:.4f} exceeds the per-task cap ${cap:.4f}"
                    )
            if fits:
                chosen, source = fits, label
                break
            if first_over_cap is None:
                first_over_cap = (label, ranked)
        if not chosen and first_over_cap is not None:
            # Nothing anywhere fits the cap: say so and take the cheapest allowed model.
            source, ranked = first_over_cap
            chosen = sorted(ranked, key=lambda c: c.cost)
            for candidate in chosen:
                excluded.pop(candidate.model.id, None)
            notes.append(f"no allowed model fits the per-task cap ${cap:.4f}; chose the cheapest over it")
        if not chosen:
            raise NoRouteError(f"no model can serve {agent.name}_{variant}: {_grouped_reasons(excluded)}")

        best = chosen[0]
        if source != stages[0][0]:
            notes.append(f"whole {agent.name}_{variant} chain left out; using the {source}")
        if tier_why:
            notes.append(tier_why)
        if not request.require_available and self._availability is not None:
            unusable = self._availability(best.model)
            if unusable:
                notes.append(f"{best.model.id} is not usable right now: {unusable}")
        if self._performance is not None:
            perf_note = self._performance.note(best.model.id, analysis.task_type)
            if perf_note:
                notes.append(perf_note)

        escalation: list[tuple[Variant, tuple[str, ...]]] = []
        for higher in VARIANTS[VARIANTS.index(variant) + 1 :]:
            ids = tuple(c.model.id for c in rank(chains[higher]))
            if ids:
                escalation.append((higher, ids))

        worker = f"_{ref.worker}" if ref.worker else ""
        rationale = (
            f"{strategy.name}: {analysis.task_type} task, complexity {analysis.complexity}/10 -> {variant} "
            f"({why}); {best.model.id} from the {source}"
        )
        if notes:
            rationale += f" ({notes[0]})"
        if check is not None:
            rationale += f"; {check.rationale}"
        return Plan(
            agent=agent.name,
            variant=variant,
            agent_name=f"{agent.name}_{variant}{worker}",
            model_id=best.model.id,
            fallback_model_ids=tuple(c.model.id for c in chosen[1:]),
            escalation=tuple(escalation),
            estimated_cost=round(best.cost, 6),
            estimated_time=round(estimate_time(best.model, best.output_tokens), 2),
            rationale=rationale,
            excluded=excluded,
            input_tokens=input_tokens,
            output_tokens=best.output_tokens,
            max_tokens=best.max_tokens,
            strategy=strategy.name,
            policy=policy.name if policy else None,
            temperature=policy.temperature if policy else None,
            variant_reason=why,
            notes=tuple(notes),
            checked=check is not None,
            expected_check_cost=round(check.expected_cost, 6) if check is not None else None,
            repo=request.repo,
        )

    # -- learned pass rates --------------------------------------------------------------

    def _pass_rates(
        self, task_type: str, complexity: int, repo: str | None
    ) -> dict[Variant, tuple[float, float, float]]:
        """Per variant: (pass rate, decayed evidence, of which in `repo`) for this kind of task.

        The prior comes from the complexity; the kind's record moves it; in a known repository
        the repository's own record moves it again, shrunk towards the kind's rate.
        """
        rates: dict[Variant, tuple[float, float, float]] = {}
        for variant in VARIANTS:
            prior = prior_pass_rate(variant, complexity)
            seen = self._performance.variant_evidence(task_type, variant, repo) if self._performance else None
            if seen is None:
                rates[variant] = (prior, 0.0, 0.0)
                continue
            rate = pass_rate(prior, seen.successes, seen.failures)
            if seen.repo_evidence > 0:
                rate = repo_pass_rate(rate, seen.repo_successes, seen.repo_failures)
            rates[variant] = (rate, seen.evidence, seen.repo_evidence)
        return rates

    def _preferred(self, task_type: str, strategy: StrategySpec, repo: str | None) -> Variant | None:
        if self._performance is None:
            return None
        advice = self._performance.preferred_variant(task_type, strategy, repo)
        return advice.variant if advice is not None else None
