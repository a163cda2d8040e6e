"""Agent-type names: agent, optional variant, optional worker label."""

from __future__ import annotations

import pytest

from server.catalog import Catalog
from server.errors import InputError
from server.routing import AgentRef, parse_agent_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aria_coder_backend", AgentRef("aria_coder_backend")),
        ("aria_coder_backend_speed", AgentRef("aria_coder_backend", "speed")),
        ("aria_coder_backend_speed_2", AgentRef("aria_coder_backend", "speed", "2")),
        ("aria_coder_1_quality", AgentRef("aria_coder", "quality", "1")),
        ("aria_coder_3", AgentRef("aria_coder", None, "3")),
        ("aria_architect_quality", AgentRef("aria_architect", "quality")),
    ],
)
def test_parses_agent_variant_and_worker_label(fixture_catalog: Catalog, name: str, expected: AgentRef) -> None:
    assert parse_agent_type(name, fixture_catalog) == expected


@pytest.mark.parametrize("name", ["aria_painter", "aria_coder_backend_fastest", "speed", ""])
def test_unknown_agent_is_an_input_error_listing_accepted_names(fixture_catalog: Catalog, name: str) -> None:
    with pytest.raises(InputError) as info:
        parse_agent_type(name, fixture_catalog)
    assert info.value.field == "agent_type"
    assert info.value.accepted is not None and "aria_coder_backend" in info.value.accepted
    assert "_quality" in info.value.accepted


def test_every_shipped_agent_parses_with_each_variant(shipped_catalog: Catalog) -> None:
    for agent in shipped_catalog.agents:
        for variant in ("speed", "balanced", "quality"):
            assert parse_agent_type(f"{agent}_{variant}_7", shipped_catalog) == AgentRef(agent, variant, "7")
