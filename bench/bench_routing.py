"""Routing decision time (analysis + route) over a catalogue of 300+ models, and routing savings.

Builds the shipped catalogue plus generated variations of its models (other prices, windows and
speeds, written to a temporary overlay directory, with every agent chain lengthened by some of
them), then routes a few thousand varied requests - every strategy, policy, budget mode, context
size, agent with and without an explicit variant, checked and unchecked - and prints p50 / p99 /
max in milliseconds, min and median over `--runs` runs. Baseline in the same run: the same
requests with the hand-set analyzer this project used before the learned prior (frozen copy in
bench/routing_eval/legacy). Target: p99 under 1 ms.

Savings: the public Task Master titles (bench/data/taskmaster_complexity.jsonl) routed over the
shipped catalogue under each strategy, against sending every one to its agent's quality variant;
priced at the catalogue's listed prices (free tiers at $0) and at paid prices (the cost report's
rule, `server.perf.report.paid_equivalent`: a free or local model priced as the cheapest paid
model of its family, else as the cheapest paid model at least as good at code; tasks with no paid
equivalent are counted and left out of that figure). Checked tasks are priced at the expected cost of
try-check-escalate.

    python bench/bench_routing.py [--requests N] [--models N] [--seed N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.routing_eval.legacy import legacy_analyze  # noqa: E402
from server.analysis import TaskHints, analyze, count_tokens, token_counter_status  # noqa: E402
from server.catalog import Catalog, ModelSpec, load_catalog  # noqa: E402
from server.errors import NoRouteError  # noqa: E402
from server.perf.report import paid_equivalent  # noqa: E402
from server.routing import AgentRef, Router, RouteRequest  # noqa: E402

EXTRA_DESCRIPTIONS = (
    "Fix all build errors, then work on milestone 3",
    "Add auth middleware and implement caching",
    "1. Add a health check endpoint\n2. Write unit tests for the parser\n3. Update the README",
    "Refactor the scheduler so retries escalate from speed to balanced to quality variants, keeping "
    "the public API stable, and add regression tests for the timeout and cancellation paths.",
)


def _toml_value(value: object) -> str:
    return json.dumps(value) if not isinstance(value, dict) else (
        "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    )


def write_overlay(base: Catalog, directory: Path, total_models: int, rng: random.Random) -> None:
    """Generated model variations, and agents whose chains include some of them."""
    lines: list[str] = []
    generated: list[str] = []
    originals = [m for m in base.models.values() if not m.deprecated]
    index = 0
    while len(base.models) + len(generated) < total_models:
        model = originals[index % len(originals)]
        index += 1
        new_id = f"{model.id}-bench{index}"
        scale = rng.uniform(0.5, 2.0)
        fields: dict[str, object] = {
            "id": new_id,
            "provider": model.provider,
            "model_name": f"{model.model_name}-bench{index}",
            "family": model.family,
            "tier": model.tier,
            "context_window": int(model.context_window * rng.choice((0.25, 0.5, 1, 2))) or 4096,
            "max_output_tokens": model.max_output_tokens,
            "tokens_per_second": round(model.tokens_per_second * scale, 1),
            "first_token_seconds": model.first_token_seconds,
            "quality": {k: round(min(10.0, v * rng.uniform(0.9, 1.05)), 2) for k, v in model.quality.items()},
            "price_source": "bench",
            "price_date": "2025-06-01",
        }
        if model.input_per_mtok is not None and model.output_per_mtok is not None:
            fields["input_per_mtok"] = round(model.input_per_mtok * scale, 4)
            fields["output_per_mtok"] = round(model.output_per_mtok * scale, 4)
        lines.append("[[models]]")
        lines.extend(
            f"{k} = {v}" if k == "price_date" else f"{k} = {_toml_value(v)}" for k, v in fields.items()
        )
        lines.append("")
        generated.append(new_id)
    for agent in base.agents.values():
        lines.append("[[agents]]")
        lines.append(f"name = {json.dumps(agent.name)}")
        for variant, chain in agent.variants.items():
            longer = list(chain) + rng.sample(generated, 6)
            lines.append(f"variants.{variant} = {json.dumps(longer)}")
        lines.append("")
    (directory / "bench.toml").write_text("\n".join(lines), encoding="utf-8")


_PLACEHOLDER = analyze("placeholder: each timed request is re-analysed from its description")


def make_requests(catalog: Catalog, count: int, rng: random.Random) -> list[tuple[str, TaskHints, RouteRequest]]:
    ratings = REPO / "tests" / "data" / "complexity_ratings.jsonl"
    descriptions = [json.loads(line)["description"] for line in ratings.read_text().splitlines() if line.strip()]
    descriptions += list(EXTRA_DESCRIPTIONS)
    strategies = catalog.strategy_names()
    policies: list[str | None] = [*catalog.policies, None]
    agents = list(catalog.agents)
    out = []
    for _ in range(count):
        hints = TaskHints(
            urgent=rng.random() < 0.3,
            severity=rng.choice((None, "low", "medium", "critical")),
            estimated_effort=rng.choice((None, None, "simple", "complex")),
            enterprise_requirements=rng.random() < 0.1,
            context_tokens=rng.choice((None, 2_000, 30_000, 150_000)),
            budget_mode=rng.choice(("normal", "normal", "normal", "local_only", "free_only")),
        )
        agent = rng.choice(agents)
        variant = rng.choice((None, None, "speed", "balanced", "quality"))
        request = RouteRequest(
            analysis=_PLACEHOLDER,
            agent=AgentRef(agent, variant) if rng.random() < 0.9 else None,  # type: ignore[arg-type]
            strategy=rng.choice(strategies),
            policy=rng.choice(policies),
            hints=hints,
            min_variant=rng.choice((None, None, None, "balanced")),
            budget_paused=rng.random() < 0.05,
            max_cost=rng.choice((None, None, 0.05)),
            checked=rng.random() < 0.3,
        )
        out.append((rng.choice(descriptions), hints, request))
    return out


def time_decisions(
    router: Router, requests: list[tuple[str, TaskHints, RouteRequest]], analyzer: object
) -> tuple[list[float], list[float]]:
    """Milliseconds per decision (analysis + route), sorted: wall clock, and this thread's CPU time.

    On a shared machine the wall clock's tail is mostly time spent waiting for a core; the CPU
    time is what a decision itself costs.
    """
    analyse = analyzer  # analyze or legacy_analyze
    timings: list[float] = []
    cpu: list[float] = []
    for description, hints, template in requests[:200]:  # warm-up: caches, branch predictors
        try:
            router.route(replace(template, analysis=analyse(description, hints)))  # type: ignore[operator]
        except NoRouteError:
            pass
    for description, hints, template in requests:
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        try:
            router.route(replace(template, analysis=analyse(description, hints)))  # type: ignore[operator]
        except NoRouteError:
            pass
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        timings.append((time.perf_counter_ns() - t0) / 1e6)
    timings.sort()
    cpu.sort()
    return timings, cpu


def p99(timings: list[float]) -> float:
    return timings[int(len(timings) * 0.99) - 1]


def paid_price(model: ModelSpec, catalog: Catalog) -> tuple[float, float] | None:
    """(input, output) $/Mtok at paid prices, by the cost report's own rule (`paid_equivalent`)."""
    paid = paid_equivalent(model, catalog)
    if paid is None or paid.input_per_mtok is None or paid.output_per_mtok is None:
        return None
    return paid.input_per_mtok, paid.output_per_mtok


def plan_cost(plan: object, catalog: Catalog, paid: bool) -> float | None:
    model = catalog.models[plan.model_id]  # type: ignore[attr-defined]
    if not paid:
        return float(plan.estimated_cost)  # type: ignore[attr-defined]
    price = paid_price(model, catalog)
    if price is None:
        return None
    return (plan.input_tokens * price[0] + plan.output_tokens * price[1]) / 1e6  # type: ignore[attr-defined]


def savings(catalog: Catalog) -> None:
    """Routed vs all-quality cost on the public Task Master titles, listed and paid prices."""
    rows = [json.loads(line) for line in (REPO / "bench" / "data" / "taskmaster_complexity.jsonl").read_text().splitlines()
            if line.strip()]
    router = Router(catalog)
    print(f"savings on {len(rows)} public Task Master titles vs all-quality routing (same agents):")
    for strategy in catalog.strategy_names():
        for checked in (False, True):
            totals = {"listed": [0.0, 0.0], "paid": [0.0, 0.0]}
            left_out = 0
            variants: dict[str, int] = {}
            for row in rows:
                analysis = analyze(row["title"])
                plan = router.route(RouteRequest(analysis, strategy=strategy, policy="code", checked=checked))
                top = router.route(RouteRequest(analysis, agent=AgentRef(plan.agent, "quality"), strategy=strategy,
                                                policy="code"))
                variants[plan.variant] = variants.get(plan.variant, 0) + 1
                for key, paid in (("listed", False), ("paid", True)):
                    routed = plan_cost(plan, catalog, paid)
                    if checked and routed is not None:
                        routed = _chain_cost(router, plan, analysis, strategy, catalog, paid)
                    quality = plan_cost(top, catalog, paid)
                    if routed is None or quality is None:
                        if paid:
                            left_out += 1
                        continue
                    totals[key][0] += routed
                    totals[key][1] += quality
            parts = []
            for key in ("listed", "paid"):
                routed, quality = totals[key]
                saving = 100.0 * (1 - routed / quality) if quality > 0 else float("nan")
                parts.append(f"{key} ${routed:.4f} vs ${quality:.4f} ({saving:.0f}% saved)")
            mix = ", ".join(f"{v} {n}" for v, n in sorted(variants.items()))
            label = "checked  " if checked else "unchecked"
            print(f"  {strategy:15s} {label} {'; '.join(parts)}; paid figure leaves out {left_out}; starts: {mix}")


def _chain_cost(router: Router, plan: object, analysis: object, strategy: str, catalog: Catalog, paid: bool) -> float | None:
    """Expected cost of try-check-escalate along the plan's chain, with the router's pass rates."""
    from server.routing.escalation import prior_pass_rate

    steps = [plan.variant] + [variant for variant, _models in plan.escalation]  # type: ignore[attr-defined]
    reach, total = 1.0, 0.0
    for variant in steps:
        one = router.route(RouteRequest(analysis, agent=AgentRef(plan.agent, variant), strategy=strategy,  # type: ignore[arg-type, attr-defined]
                                        policy="code"))
        cost = plan_cost(one, catalog, paid)
        if cost is None:
            return None
        total += reach * cost
        reach *= 1.0 - prior_pass_rate(variant, analysis.complexity)  # type: ignore[attr-defined]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--models", type=int, default=320)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-savings", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    shipped = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        write_overlay(shipped, Path(tmp), args.models, rng)
        catalog = load_catalog(Path(tmp))
    count_tokens("warm up the tokenizer")  # loaded once per process, lazily; not part of a decision
    analyze("warm up the learned prior")  # its weights load once per process
    started = time.perf_counter()
    router = Router(catalog)
    init_ms = (time.perf_counter() - started) * 1000
    requests = make_requests(catalog, args.requests, rng)

    figures: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "base_wall", "base_cpu", "p50")}
    for _ in range(args.runs):
        timings, cpu = time_decisions(router, requests, analyze)
        base_timings, base_cpu = time_decisions(router, requests, legacy_analyze)
        figures["wall"].append(p99(timings))
        figures["cpu"].append(p99(cpu))
        figures["base_wall"].append(p99(base_timings))
        figures["base_cpu"].append(p99(base_cpu))
        figures["p50"].append(statistics.median(timings))
    print(f"catalogue: {len(catalog.models)} models, {len(catalog.agents)} agents "
          f"(chains {min(len(c) for a in catalog.agents.values() for c in a.variants.values())}-"
          f"{max(len(c) for a in catalog.agents.values() for c in a.variants.values())} models)")
    print(f"token counter: {token_counter_status()}; router init: {init_ms:.1f} ms")
    print(f"requests: {len(requests)} per run, {args.runs} runs (30% checked)")
    def line(name: str, key: str) -> str:
        values = figures[key]
        return f"{name}: min {min(values):.3f} ms, median {statistics.median(values):.3f} ms"

    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    print("routing decision p99, learned prior + route: " + line("wall", "wall") + "; " + line("CPU", "cpu"))
    print("baseline p99, hand-set analyzer + route:     " + line("wall", "base_wall") + "; " + line("CPU", "base_cpu"))
    ratio = statistics.median(figures["cpu"]) / statistics.median(figures["base_cpu"])
    print(f"ratio learned/baseline (median CPU p99) {ratio:.2f}; wall p50 median {statistics.median(figures['p50']):.3f} ms")
    cpu_mid, wall_min = statistics.median(figures["cpu"]), min(figures["wall"])
    print(f"target p99 < 1 ms: CPU {'met' if cpu_mid < 1.0 else 'NOT met'}, wall (best run) "
          f"{'met' if wall_min < 1.0 else 'NOT met'}")
    if not args.no_savings:
        savings(shipped)


if __name__ == "__main__":
    main()
