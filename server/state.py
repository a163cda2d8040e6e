"""The resources one server process owns for its lifetime (built in the lifespan, closed after).

Tools reach them through the MCP request context (`tools._shared.app_state`); the engine
modules never import this file's consumers, and nothing here knows MCP.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from server.catalog import Catalog, load_catalog
from server.settings import Settings

__all__ = ["AppState", "open_app_state"]


@dataclass
class AppState:
    settings: Settings
    catalog: Catalog
    # Filled in as the engine grows: router, store, scheduler, http client, validation runner.
    extras: dict[str, Any] = field(default_factory=dict)
    exit_stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def aclose(self) -> None:
        await self.exit_stack.aclose()


async def open_app_state(settings: Settings) -> AppState:
    """Build every long-lived resource from `settings`.

    Raises:
        ManifestError: the shipped or overlay manifests are broken.
    """
    catalog = load_catalog(settings.manifests_overlay)
    return AppState(settings=settings, catalog=catalog)
