"""Default context budgets, and who may receive workspace text."""

from __future__ import annotations

from server.catalog import load_catalog
from server.context import default_budget, workspace_text_allowed


def test_the_default_budget_leaves_room_for_the_answer_and_follows_the_policy() -> None:
    small = default_budget(context_window=8_192, max_output_tokens=4_096, policy_max_tokens=4_000)
    assert small + 4_000 < 8_192
    assert default_budget(200_000, 8_000, 1_000) < default_budget(200_000, 8_000, 16_000)
    assert default_budget(2_000_000, 8_000, 16_000) <= 64_000


def test_with_local_only_workspace_text_goes_to_local_models_only() -> None:
    catalog = load_catalog()
    local = [m.id for m in catalog.models.values() if catalog.providers[m.provider].local]
    remote = [m.id for m in catalog.models.values() if not catalog.providers[m.provider].local]
    assert local and remote
    assert workspace_text_allowed(local[:2], catalog, local_only=True)
    assert not workspace_text_allowed([local[0], remote[0]], catalog, local_only=True)
    assert workspace_text_allowed([remote[0]], catalog, local_only=False)
