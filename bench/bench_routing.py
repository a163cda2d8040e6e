"""Routing decision time (analysis + route) over a catalogue of 300+ models.

Builds the shipped catalogue plus generated variations of its models (other prices, windows and
speeds, written to a temporary overlay directory, with every agent chain lengthened by some of
them), then routes a few thousand varied requests - every strategy, policy, budget mode, context
size, agent with and without an explicit variant - and prints p50 / p99 / max in milliseconds.
Target: p99 under 1 ms.

    python bench/bench_routing.py [--requests N] [--models N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.analysis import TaskHints, analyze, count_tokens, token_counter_status  # noqa: E402
from server.catalog import Catalog, load_catalog  # noqa: E402
from server.errors import NoRouteError  # noqa: E402
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
        )
        out.append((rng.choice(descriptions), hints, request))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--models", type=int, default=320)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    shipped = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        write_overlay(shipped, Path(tmp), args.models, rng)
        catalog = load_catalog(Path(tmp))
    count_tokens("warm up the tokenizer")  # loaded once per process, lazily; not part of a decision
    started = time.perf_counter()
    router = Router(catalog)
    init_ms = (time.perf_counter() - started) * 1000
    requests = make_requests(catalog, args.requests, rng)

    timings: list[float] = []
    no_route = 0
    for description, hints, template in requests[:200]:  # warm-up: caches, branch predictors
        try:
            router.route(replace(template, analysis=analyze(description, hints)))
        except NoRouteError:
            pass
    for description, hints, template in requests:
        t0 = time.perf_counter_ns()
        try:
            router.route(replace(template, analysis=analyze(description, hints)))
        except NoRouteError:
            no_route += 1
        timings.append((time.perf_counter_ns() - t0) / 1e6)

    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"catalogue: {len(catalog.models)} models, {len(catalog.agents)} agents "
          f"(chains {min(len(c) for a in catalog.agents.values() for c in a.variants.values())}-"
          f"{max(len(c) for a in catalog.agents.values() for c in a.variants.values())} models)")
    print(f"token counter: {token_counter_status()}; router init: {init_ms:.1f} ms")
    print(f"requests: {len(timings)} ({no_route} with no possible route, timed too)")
    print(f"routing decision (analysis + route): p50 {p50:.3f} ms  p99 {p99:.3f} ms  max {timings[-1]:.3f} ms  "
          f"mean {statistics.fmean(timings):.3f} ms")
    print(f"target p99 < 1 ms: {'met' if p99 < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
