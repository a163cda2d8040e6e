"""`models sync`: refresh prices and context windows from OpenRouter's model list into a cache.

The shipped manifests stay the offline default; the cache (`<data dir>/openrouter_models.json`)
is an overlay applied on top of them for the models OpenRouter serves (`provider = "openrouter"`,
matched on the provider's model name). OpenRouter quotes USD per token as strings; the cache keeps
USD per million tokens like the manifests. A price OpenRouter marks variable (negative, as for its
`openrouter/auto` router) is left out rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx

from server.catalog.loader import load_catalog
from server.catalog.schema import Catalog, ModelSpec
from server.errors import ConfigError, PWMError
from server.settings import Settings

__all__ = [
    "CACHE_NAME",
    "apply_price_cache",
    "cache_path",
    "fetch_openrouter_models",
    "load_catalog_with_cache",
    "load_price_cache",
    "write_price_cache",
]

log = logging.getLogger(__name__)

CACHE_NAME = "openrouter_models.json"


def cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / CACHE_NAME


def _per_mtok(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number < 0 else round(number * 1_000_000, 6)


def _entry(item: dict[str, Any]) -> dict[str, Any] | None:
    pricing: dict[str, Any] = item["pricing"] if isinstance(item.get("pricing"), dict) else {}
    top: dict[str, Any] = item["top_provider"] if isinstance(item.get("top_provider"), dict) else {}
    context = item.get("context_length") or top.get("context_length")
    entry = {
        "input_per_mtok": _per_mtok(pricing.get("prompt")),
        "output_per_mtok": _per_mtok(pricing.get("completion")),
        "cache_read_per_mtok": _per_mtok(pricing.get("input_cache_read")),
        "cache_write_per_mtok": _per_mtok(pricing.get("input_cache_write")),
        "context_window": int(context) if isinstance(context, int | float) and context > 0 else None,
        "max_output_tokens": (
            int(top["max_completion_tokens"])
            if isinstance(top.get("max_completion_tokens"), int | float) and top["max_completion_tokens"] > 0
            else None
        ),
    }
    return entry if any(v is not None for v in entry.values()) else None


async def fetch_openrouter_models(
    client: httpx.AsyncClient, base_url: str, api_key: str | None = None, timeout_s: float = 30.0
) -> dict[str, dict[str, Any]]:
    """OpenRouter's `/models` list as {model name: prices and limits}.

    Raises:
        PWMError: the list cannot be fetched or is not the expected shape.
    """
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = await client.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise PWMError(f"could not reach OpenRouter's model list at {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise PWMError(f"OpenRouter's model list at {url} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise PWMError(f"OpenRouter's model list at {url} is not JSON") from None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PWMError(f"OpenRouter's model list at {url} has no 'data' array")
    models: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            entry = _entry(item)
            if entry is not None:
                models[item["id"]] = entry
    return models


def write_price_cache(path: Path, models: dict[str, dict[str, Any]], source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    document = {"fetched_at": time.time(), "source": source, "models": models}
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def load_price_cache(path: Path) -> dict[str, Any] | None:
    """The cache document, or None when there is none.

    Raises:
        ConfigError: the file exists but is not a cache we wrote.
    """
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable price cache ({exc}); delete it or run `models sync` again") from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise ConfigError(f"{path}: not a price cache; delete it or run `models sync` again")
    return document


def apply_price_cache(catalog: Catalog, document: dict[str, Any] | None) -> tuple[Catalog, list[dict[str, Any]]]:
    """`catalog` with the cache's prices and windows over its OpenRouter models, and the changes."""
    if not document:
        return catalog, []
    cached: dict[str, dict[str, Any]] = document["models"]
    fetched = dt.date.fromtimestamp(float(document.get("fetched_at", time.time())))
    models: dict[str, ModelSpec] = dict(catalog.models)
    changes: list[dict[str, Any]] = []
    for model_id, model in catalog.models.items():
        provider = catalog.providers.get(model.provider)
        if provider is None or provider.name != "openrouter" or model.model_name not in cached:
            continue
        entry = cached[model.model_name]
        update: dict[str, Any] = {}
        for field in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok",
                      "context_window", "max_output_tokens"):
            value = entry.get(field)
            if value is not None and value != getattr(model, field):
                update[field] = value
        if ("input_per_mtok" in update) != ("output_per_mtok" in update) and model.input_per_mtok is None:
            update.pop("input_per_mtok", None)
            update.pop("output_per_mtok", None)
        if not update:
            continue
        changes.append({"model_id": model_id, **{k: {"from": getattr(model, k), "to": v} for k, v in update.items()}})
        update["price_source"] = f"{document.get('source', 'openrouter')} (synced {fetched.isoformat()})"
        update["price_date"] = fetched
        models[model_id] = model.model_copy(update=update)
    if not changes:
        return catalog, []
    return catalog.model_copy(update={"models": models}), changes


def load_catalog_with_cache(settings: Settings) -> Catalog:
    """The catalogue (shipped + overlay manifests) with the `models sync` cache applied, if any.

    Raises:
        ManifestError: a manifest is broken.  ConfigError: the cache file is unreadable.
    """
    catalog = load_catalog(settings.manifests_overlay, provider_overrides=settings.provider_overrides)
    return apply_price_cache(catalog, load_price_cache(cache_path(settings.data_dir)))[0]
