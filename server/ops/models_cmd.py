"""`parallel-work-manager models list | test NAME | sync`.

- `list` filters the catalogue by tier, provider, capability score and output price.
- `test NAME` makes one real call through the provider registry and prints its latency and cost.
- `sync` fetches OpenRouter's model list (base URL overridable by `OPENROUTER_BASE_URL`) into a
  cache under the data directory that overlays prices and context windows; the shipped manifests
  stay the offline default.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import httpx

from server.backends.base import Usage
from server.backends.pricing import compute_cost
from server.backends.registry import ProviderRegistry
from server.catalog import Catalog, load_catalog
from server.catalog.schema import CAPABILITIES, ModelSpec
from server.errors import BackendError, InputError
from server.formatting import plural
from server.perf.price_sync import (
    apply_price_cache,
    cache_path,
    fetch_openrouter_models,
    load_catalog_with_cache,
    load_price_cache,
    write_price_cache,
)
from server.settings import Settings

__all__ = ["add_arguments", "filter_models", "load_catalog_with_cache", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list catalogue models")
    listing.add_argument("--tier", choices=["local", "free", "paid"])
    listing.add_argument("--provider")
    listing.add_argument("--capability", choices=CAPABILITIES, help="sort by this capability's score")
    listing.add_argument("--min-score", type=float, default=0.0, help="with --capability: lowest score shown (0-10)")
    listing.add_argument("--max-price", type=float, help="highest output price in USD per million tokens")
    listing.add_argument("--include-deprecated", action="store_true")
    listing.add_argument("--json", action="store_true")
    test = sub.add_parser("test", help="make one real call to a model and show its latency and cost")
    test.add_argument("name", help="model id, provider model name or alias")
    test.add_argument("--prompt", default="Reply with the single word: ready")
    test.add_argument("--max-tokens", type=int, default=32)
    test.add_argument("--timeout", type=float, default=60.0)
    test.add_argument("--json", action="store_true")
    sync = sub.add_parser("sync", help="refresh prices and context windows from OpenRouter into a local cache")
    sync.add_argument("--json", action="store_true")


def filter_models(
    catalog: Catalog,
    *,
    tier: str | None = None,
    provider: str | None = None,
    capability: str | None = None,
    min_score: float = 0.0,
    max_price: float | None = None,
    include_deprecated: bool = False,
) -> list[ModelSpec]:
    """Models matching every filter given; sorted by capability score (if given), then price."""
    if provider is not None and provider not in catalog.providers:
        raise InputError("--provider", f"unknown provider {provider!r}", ", ".join(sorted(catalog.providers)))
    if max_price is not None and max_price < 0:
        raise InputError("--max-price", f"must be >= 0, got {max_price}")
    out = []
    for model in catalog.models.values():
        if model.deprecated and not include_deprecated:
            continue
        if tier and model.tier != tier:
            continue
        if provider and model.provider != provider:
            continue
        if capability and model.score(capability) < min_score:
            continue
        if max_price is not None:
            price = 0.0 if model.tier != "paid" else model.output_per_mtok
            if price is None or price > max_price:
                continue
        out.append(model)

    def key(model: ModelSpec) -> tuple[float, float, str]:
        score = -model.score(capability) if capability else 0.0
        price = 0.0 if model.tier != "paid" else (model.output_per_mtok if model.output_per_mtok is not None else 1e9)
        return score, price, model.id

    return sorted(out, key=key)


def _model_row(model: ModelSpec) -> dict[str, Any]:
    return {
        "id": model.id, "provider": model.provider, "model_name": model.model_name, "tier": model.tier,
        "input_per_mtok": model.input_per_mtok, "output_per_mtok": model.output_per_mtok,
        "context_window": model.context_window, "tokens_per_second": model.tokens_per_second,
        "quality": dict(model.quality), "deprecated": model.deprecated, "price_source": model.price_source,
    }


def _price(value: float | None, tier: str) -> str:
    if tier != "paid":
        return "free"
    return "unknown" if value is None else f"${value:g}"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog_with_cache(settings)
    models = filter_models(
        catalog, tier=args.tier, provider=args.provider, capability=args.capability,
        min_score=args.min_score, max_price=args.max_price, include_deprecated=args.include_deprecated,
    )
    if args.json:
        print(json.dumps([_model_row(m) for m in models], indent=2))
        return 0
    cap = args.capability or "code"
    width = max([len("MODEL"), *(len(m.id) for m in models)])  # ids are never cut: they are what `models test` takes
    print(f"{'MODEL':<{width}} {'TIER':<6} {'IN $/M':>9} {'OUT $/M':>9} {'CONTEXT':>9} {'TOK/S':>6} {cap.upper():>6}")
    for m in models:
        print(
            f"{m.id:<{width}} {m.tier:<6} {_price(m.input_per_mtok, m.tier):>9} {_price(m.output_per_mtok, m.tier):>9} "
            f"{m.context_window:>9,} {m.tokens_per_second:>6.0f} {m.score(cap):>6.1f}"
        )
    print(plural(len(models), "model"))
    return 0


async def _test(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog_with_cache(settings)
    model = catalog.models.get(args.name) or catalog.resolve_model(args.name)
    if model is None:
        raise InputError("NAME", f"unknown model {args.name!r}", "an id from `parallel-work-manager models list`")
    async with httpx.AsyncClient() as client:
        registry = ProviderRegistry(catalog, settings, client)
        reason = registry.availability(model)
        if reason is not None and reason.startswith("no "):  # no API key: nothing to try
            print(f"{model.id}: cannot call it: {reason}")
            return 1
        request = registry.request_for(
            model, [{"role": "user", "content": args.prompt}], max_tokens=args.max_tokens,
            timeout_s=args.timeout, stream=True,
        )
        started = time.perf_counter()
        try:
            completion = await registry.backend_for(model.provider).complete(request)
        except BackendError as exc:
            elapsed = time.perf_counter() - started
            result = {"model_id": model.id, "ok": False, "error_class": exc.error_class, "error": str(exc),
                      "latency_s": round(elapsed, 3)}
            print(json.dumps(result, indent=2) if args.json else
                  f"{model.id}: FAILED after {elapsed:.2f}s ({exc.error_class}): {exc}")
            return 1
    elapsed = time.perf_counter() - started
    cost = compute_cost(model, completion.usage or Usage(), completion.provider_cost)
    usage = completion.usage or Usage()
    result = {
        "model_id": model.id, "ok": True, "latency_s": round(completion.latency_s or elapsed, 3),
        "first_token_s": None if completion.first_token_s is None else round(completion.first_token_s, 3),
        "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "cost_usd": cost.amount, "cost_source": cost.source, "reply": completion.text[:200],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        first = f", first token {result['first_token_s']:.2f}s" if result["first_token_s"] is not None else ""
        money = "unknown" if cost.amount is None else f"${cost.amount:.6f}"
        print(f"{model.id}: ok in {result['latency_s']:.2f}s{first}")
        print(f"  tokens in {usage.input_tokens} / out {usage.output_tokens}; cost {money} ({cost.source})")
        print(f"  reply: {completion.text[:200]!r}")
    return 0


async def _sync(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog(settings.manifests_overlay, provider_overrides=settings.provider_overrides)
    provider = catalog.providers.get("openrouter")
    if provider is None:
        raise InputError("providers", "no 'openrouter' provider in the catalogue to sync from")
    base_url = settings.base_url_for(provider.name, provider.base_url, provider.base_url_env)
    async with httpx.AsyncClient() as client:
        models = await fetch_openrouter_models(client, base_url, settings.api_key(provider.key_env))
    path = cache_path(settings.data_dir)
    write_price_cache(path, models, "openrouter /models")
    _merged, changes = apply_price_cache(catalog, load_price_cache(path))
    if args.json:
        print(json.dumps({"cache": str(path), "listed": len(models), "changes": changes}, indent=2))
        return 0
    print(f"Fetched {len(models)} models from OpenRouter; cache written to {path}")
    if not changes:
        print("The catalogue's OpenRouter prices and context windows already match.")
    for change in changes:
        parts = [f"{k} {v['from']} -> {v['to']}" for k, v in change.items() if k != "model_id"]
        print(f"  {change['model_id']}: " + "; ".join(parts))
    return 0


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.models_command == "list":
        return _list(args, settings)
    if args.models_command == "test":
        return await _test(args, settings)
    return await _sync(args, settings)
