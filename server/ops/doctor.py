"""`parallel-work-manager doctor`: is this installation ready to route and run tasks?

Checks, each `ok`, `warn` or `fail`:
- keys: each provider's key variable, by NAME only (a value is never read into the output);
- providers: whether each provider with a key (or a local one) answers its model list;
- database: opens, passes SQLite's quick_check, schema version, size;
- tokenizer: tiktoken's offline encoding loads (else token counts are estimates).
Exit status 1 when any check fails (a missing key or an unreachable provider only warns).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from server.analysis.tokens import token_counter_status
from server.backends.registry import ProviderRegistry
from server.catalog.schema import Catalog, ProviderSpec
from server.errors import PWMError
from server.formatting import plural
from server.perf.price_sync import load_catalog_with_cache
from server.perf.queries import PerfReader
from server.settings import Settings
from server.store import Store
from server.store.target import redact_url

__all__ = ["Check", "add_arguments", "run", "run_checks"]


@dataclass
class Check:
    area: str  # keys | providers | database | tokenizer | catalogue
    name: str
    status: str  # ok | warn | fail
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="skip the provider reachability checks")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per provider check (default 3)")
    parser.add_argument("--json", action="store_true")


def _key_checks(catalog: Catalog, settings: Settings, providers: dict[str, ProviderSpec]) -> list[Check]:
    checks = []
    for provider in sorted(providers.values(), key=lambda p: p.name):
        if not provider.key_env:
            checks.append(Check("keys", provider.name, "ok", "no key needed" + (" (local)" if provider.local else "")))
        elif settings.api_key(provider.key_env) is not None:
            checks.append(Check("keys", provider.name, "ok", f"{provider.key_env} is set"))
        else:
            used = sum(1 for m in catalog.models.values() if m.provider == provider.name)
            checks.append(Check("keys", provider.name, "warn", f"{provider.key_env} is not set: its {plural(used, 'model')} are left out"))
    return checks


async def _provider_checks(
    registry: ProviderRegistry, settings: Settings, providers: dict[str, ProviderSpec], client: httpx.AsyncClient,
    timeout_s: float,
) -> list[Check]:
    async def one(provider: ProviderSpec) -> Check:
        key = settings.api_key(provider.key_env)
        base = registry.base_url(provider)
        ollama = registry.protocol(provider) == "ollama"
        url = base.rstrip("/") + ("/api/tags" if ollama else "/models")
        headers = {}
        if key:
            headers = {"x-api-key": key, "anthropic-version": "2023-06-01"} if provider.protocol == "anthropic" else {
                "Authorization": f"Bearer {key}"}
        try:
            response = await client.get(url, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            return Check("providers", provider.name, "warn", f"not reachable at {_show(base)} ({type(exc).__name__})")
        if response.status_code in (401, 403):
            return Check("providers", provider.name, "fail", f"{_show(base)} refused the key (HTTP {response.status_code})")
        if response.status_code >= 500:
            return Check("providers", provider.name, "warn", f"{_show(base)} answers HTTP {response.status_code}")
        return Check("providers", provider.name, "ok", f"{_show(base)} answers (HTTP {response.status_code})")

    # A provider without its key was already reported under "keys": it is not listed again here.
    ordered = [p for p in sorted(providers.values(), key=lambda p: p.name)
               if not p.key_env or settings.api_key(p.key_env) is not None]
    return list(await asyncio.gather(*(one(p) for p in ordered)))


def _show(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    return str(parsed.copy_with(username=None, password=None, query=None))


async def _postgres_checks(url: str) -> list[Check]:
    try:
        store = await Store.open(url)
    except PWMError as exc:
        return [Check("database", redact_url(url), "fail", str(exc))]
    where = redact_url(url)
    try:
        migrations, attempts = await PerfReader.for_store(store).schema_info()
    except PWMError as exc:
        return [Check("database", where, "fail", str(exc))]
    finally:
        await store.close()
    last = migrations[-1] if migrations else "none"
    return [Check("database", where, "ok",
                  f"reachable; schema {last} ({len(migrations)} migrations); {plural(attempts, 'call')} recorded")]


async def _database_checks(settings: Settings) -> list[Check]:
    if settings.db_url.startswith("postgresql://"):
        return await _postgres_checks(settings.db_url)
    path = settings.db_path
    if not path.is_file():
        parent = path.parent
        writable = parent.exists() or parent.parent.exists()
        status = "ok" if writable else "warn"
        return [Check("database", str(path), status, "not created yet (it is created on the first run)")]
    reader = PerfReader(path)
    try:
        async with reader:
            verdict = await reader.integrity_check()
            migrations, attempts = await reader.schema_info()
    except PWMError as exc:
        return [Check("database", str(path), "fail", str(exc))]
    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-wal"))
    if verdict != "ok":
        return [Check("database", str(path), "fail", f"quick_check: {verdict}")]
    last = migrations[-1] if migrations else "none"
    return [Check("database", str(path), "ok",
                  f"healthy; schema {last} ({len(migrations)} migrations); {plural(attempts, 'call')} recorded; "
                  f"{size / 1e6:.1f} MB")]


async def run_checks(settings: Settings, *, offline: bool = False, timeout_s: float = 3.0) -> list[Check]:
    """Every check, in display order."""
    checks: list[Check] = []
    try:
        catalog = load_catalog_with_cache(settings)
    except PWMError as exc:
        return [Check("catalogue", "manifests", "fail", str(exc))]
    checks.append(Check("catalogue", "manifests", "ok",
                        f"{plural(len(catalog.models), 'model')}, {plural(len(catalog.agents), 'agent')}, "
                        f"{plural(len(catalog.providers), 'provider')}"))
    async with httpx.AsyncClient() as client:
        registry = ProviderRegistry(catalog, settings, client)
        checks += _key_checks(catalog, settings, registry.providers)
        if not offline:
            checks += await _provider_checks(registry, settings, registry.providers, client, timeout_s)
    checks += await _database_checks(settings)
    status = token_counter_status()
    checks.append(Check("tokenizer", "tiktoken", "ok" if status.startswith("tiktoken") else "warn",
                        status if status.startswith("tiktoken") else "offline encoding unavailable: token counts are estimates"))
    return checks


async def run(args: argparse.Namespace, settings: Settings) -> int:
    checks = await run_checks(settings, offline=args.offline, timeout_s=args.timeout)
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
        return 1 if failed else 0
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    area = ""
    for check in checks:
        if check.area != area:
            area = check.area
            print(f"{area}:")
        print(f"  [{marks[check.status]}] {check.name}: {check.detail}")
    summary: dict[str, Any] = {s: sum(1 for c in checks if c.status == s) for s in ("ok", "warn", "fail")}
    print(f"{summary['ok']} ok, {summary['warn']} warnings, {summary['fail']} failures")
    return 1 if failed else 0
