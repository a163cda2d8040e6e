"""The model catalogue: manifest schema and loader."""

from server.catalog.loader import load_catalog, shipped_manifests_dir
from server.catalog.schema import (
    VARIANTS,
    AgentSpec,
    Catalog,
    ModelSpec,
    PolicySpec,
    ProviderSpec,
    StrategySpec,
    Tier,
    Variant,
)

__all__ = [
    "VARIANTS",
    "AgentSpec",
    "Catalog",
    "ModelSpec",
    "PolicySpec",
    "ProviderSpec",
    "StrategySpec",
    "Tier",
    "Variant",
    "load_catalog",
    "shipped_manifests_dir",
]
