"""Routing: analysed task + strategy + policy + budget + model health -> `Plan`."""

from server.routing.agents import accepted_agent_names, parse_agent_type
from server.routing.costs import estimate_cost, estimate_time
from server.routing.router import Router
from server.routing.types import (
    AgentRef,
    Availability,
    PerformanceView,
    Plan,
    RouteRequest,
    VariantPreference,
    VariantRecord,
)
from server.routing.variants import choose_variant

__all__ = [
    "AgentRef",
    "Availability",
    "PerformanceView",
    "Plan",
    "RouteRequest",
    "Router",
    "VariantPreference",
    "VariantRecord",
    "accepted_agent_names",
    "choose_variant",
    "estimate_cost",
    "estimate_time",
    "parse_agent_type",
]
