"""Load the catalogue from TOML manifests: the shipped set, then an optional user overlay.

Every `*.toml` file in a manifests directory may hold any of the top-level arrays
`providers`, `models`, `agents`, `strategies`, `policies` (each entry keyed by `id` for models,
`name` otherwise). An overlay entry with a known key is merged field by field over the shipped
one; an unknown key adds an entry, which must then be complete. Any problem raises
`ManifestError` naming the file, the entry key and what is wrong.

The config file's provider entries (`Settings.provider_overrides`) are merged last, by the same
rule: the user's fields win one by one over the shipped provider of that name, and a new name
starts from `ProviderOverride.NEW_PROVIDER_DEFAULTS`. This is the only place custom providers
are merged: the gate, the rate limiters and the backends all read the merged catalogue.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from server.catalog.schema import AgentSpec, Catalog, ModelSpec, PolicySpec, ProviderSpec, StrategySpec
from server.errors import ManifestError

if TYPE_CHECKING:
    from server.settings import ProviderOverride

__all__ = ["load_catalog", "merge_provider", "shipped_manifests_dir"]

log = logging.getLogger(__name__)

_SECTIONS: dict[str, tuple[type[BaseModel], str]] = {
    "providers": (ProviderSpec, "name"),
    "models": (ModelSpec, "id"),
    "agents": (AgentSpec, "name"),
    "strategies": (StrategySpec, "name"),
    "policies": (PolicySpec, "name"),
}


@dataclass
class _Entry:
    data: dict[str, Any]
    source: Path


def shipped_manifests_dir() -> Path:
    """The manifests directory that ships with the package."""
    return Path(str(resources.files("manifests")))


def load_catalog(
    overlay: Path | None = None,
    base: Path | None = None,
    provider_overrides: Sequence[ProviderOverride] = (),
) -> Catalog:
    """Read the shipped manifests, merge `overlay` and then `provider_overrides` (the config
    file's provider entries) over them, validate, and return the catalogue.

    Overrides are merged before validation, so overlay models may name a custom provider.

    Raises:
        ManifestError: a file does not parse, an entry is invalid, or a reference is unknown.
    """
    entries: dict[str, dict[str, _Entry]] = {section: {} for section in _SECTIONS}
    _read_dir(base or shipped_manifests_dir(), entries, overlay=False)
    if overlay is not None:
        if not overlay.is_dir():
            raise ManifestError(f"{overlay}: manifests overlay directory does not exist")
        _read_dir(overlay, entries, overlay=True)

    for override in provider_overrides:
        merge_provider(entries["providers"], override)

    built: dict[str, dict[str, Any]] = {}
    for section, (model_cls, _key_field) in _SECTIONS.items():
        built[section] = {}
        for key, entry in entries[section].items():
            try:
                built[section][key] = model_cls.model_validate(entry.data)
            except ValidationError as exc:
                raise ManifestError(_describe(entry.source, section, key, exc)) from None
    _check_references(built, entries)
    try:
        return Catalog.model_validate(built)
    except ValidationError as exc:  # the cross-checks above should have caught it
        raise ManifestError(f"catalogue: {exc}") from None


def merge_provider(providers: dict[str, _Entry], override: ProviderOverride) -> None:
    """Merge the user's entry over the provider of that name: their fields win, one by one."""
    existing = providers.get(override.name)
    base = existing.data if existing is not None else dict(override.NEW_PROVIDER_DEFAULTS)
    if existing is not None:
        log.debug("config %s overrides %s of the shipped provider", override.source, ", ".join(override.fields))
    providers[override.name] = _Entry({**base, **override.fields}, Path(f"<config {override.source}>"))


def _read_dir(directory: Path, entries: dict[str, dict[str, _Entry]], *, overlay: bool) -> None:
    for path in sorted(directory.glob("*.toml")):
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{path}: not valid TOML: {exc}") from None
        for section, items in document.items():
            if section not in _SECTIONS:
                raise ManifestError(
                    f"{path}: unknown top-level key {section!r}; accepted: {', '.join(_SECTIONS)}"
                )
            key_field = _SECTIONS[section][1]
            if not isinstance(items, list):
                raise ManifestError(f"{path}: {section} must be an array of tables ([[{section}]])")
            for index, item in enumerate(items):
                key = item.get(key_field) if isinstance(item, dict) else None
                if not isinstance(key, str) or not key:
                    raise ManifestError(f"{path}: {section}[{index}] needs a non-empty {key_field!r}")
                existing = entries[section].get(key)
                if existing is not None and not overlay:
                    raise ManifestError(
                        f"{path}: {section}.{key} is defined twice (also in {existing.source.name})"
                    )
                if existing is not None:
                    entries[section][key] = _Entry({**existing.data, **item}, path)
                else:
                    entries[section][key] = _Entry(dict(item), path)


def _describe(source: Path, section: str, key: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(entry)"
        problems.append(f"{section}.{key}.{where}: {error['msg']}")
    return f"{source}: " + "; ".join(problems)


def _check_references(built: dict[str, dict[str, Any]], entries: dict[str, dict[str, _Entry]]) -> None:
    models: dict[str, ModelSpec] = built["models"]
    for model_id, model in models.items():
        if model.provider not in built["providers"]:
            source = entries["models"][model_id].source
            raise ManifestError(
                f"{source}: models.{model_id}.provider: unknown provider {model.provider!r}; "
                f"known: {', '.join(sorted(built['providers']))}"
            )
    agents: dict[str, AgentSpec] = built["agents"]
    for name, agent in agents.items():
        for variant, chain in agent.variants.items():
            for model_id in chain:
                if model_id not in models:
                    source = entries["agents"][name].source
                    raise ManifestError(
                        f"{source}: agents.{name}.variants.{variant}: unknown model {model_id!r}"
                    )
    policies: dict[str, PolicySpec] = built["policies"]
    for name, policy in policies.items():
        for model_id in policy.preferred_models:
            if model_id not in models:
                source = entries["policies"][name].source
                raise ManifestError(f"{source}: policies.{name}.preferred_models: unknown model {model_id!r}")
