"""Parse the agent-type names callers use into (agent, variant, worker).

Accepted forms, for an agent `aria_coder_backend` in the catalogue:

    aria_coder_backend              the agent; the strategy picks the variant
    aria_coder_backend_speed        an explicit variant (speed / balanced / quality)
    aria_coder_backend_speed_2      ... with a worker label
    aria_coder_1_quality            the seed's form: worker label before the variant
    aria_coder_backend_2            a worker label without a variant
"""

from __future__ import annotations

from typing import cast

from server.catalog.schema import VARIANTS, Catalog, Variant
from server.errors import InputError
from server.routing.types import AgentRef

__all__ = ["accepted_agent_names", "parse_agent_type"]


def accepted_agent_names(catalog: Catalog) -> str:
    """The accepted names, for error messages."""
    return ", ".join(sorted(catalog.agents)) + " (optionally + _speed / _balanced / _quality and a _N worker label)"


def parse_agent_type(name: str, catalog: Catalog) -> AgentRef:
    """Split `name` into agent, variant and worker label.

    Raises:
        InputError: the agent is not in the catalogue (names the field `agent_type`).
    """
    cleaned = name.strip()
    if cleaned in catalog.agents:
        return AgentRef(cleaned)
    parts = cleaned.split("_")
    variant: Variant | None = None
    worker: str | None = None
    # Peel from the right: worker number, variant, worker number (the seed's `_1_quality`).
    if len(parts) > 1 and parts[-1].isdigit():
        worker = parts.pop()
    if len(parts) > 1 and parts[-1] in VARIANTS:
        variant = cast(Variant, parts.pop())
    if worker is None and len(parts) > 1 and parts[-1].isdigit():
        worker = parts.pop()
    agent = "_".join(parts)
    if agent not in catalog.agents or (variant is None and worker is None):
        raise InputError("agent_type", f"unknown agent type {name!r}", accepted_agent_names(catalog))
    return AgentRef(agent, variant, worker)
