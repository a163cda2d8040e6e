"""Tokens: issued once, stored hashed, verified to their user; users' and teams' budgets hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import BudgetExceeded, InputError
from server.store import BudgetLimits, Store
from tests.store.helpers import new_group, new_tasks, query


async def test_a_token_is_stored_only_as_its_hash_and_verifies_to_its_user(store: Store, db: str | Path) -> None:
    assert await store.token_count() == 0
    issued = await store.create_token("ana", team="core", budget_usd=2.0)
    assert issued.token.startswith("pwm_") and len(issued.token) > 40
    caller = await store.verify_token(issued.token)
    assert caller is not None and (caller.user, caller.team, caller.role, caller.budget_usd) == ("ana", "core", "user", 2.0)
    assert await store.verify_token(issued.token + "x") is None
    assert await store.verify_token("not-a-token") is None
    stored = [r[0] for r in query(db, "SELECT hash FROM tokens")]
    assert stored and issued.token not in stored and all(issued.token not in h for h in stored)
    assert await store.token_count() == 1
    assert await store.revoke_token(issued.token_id)
    assert await store.verify_token(issued.token) is None and await store.token_count() == 0


async def test_a_bad_user_or_budget_is_refused_naming_the_option(store: Store) -> None:
    with pytest.raises(InputError, match="--user"):
        await store.create_token("  ")
    with pytest.raises(InputError, match="--budget"):
        await store.create_token("bo", budget_usd=-1.0)


async def test_a_users_budget_and_their_teams_hold_on_top_of_the_global_ones(store: Store) -> None:
    await store.create_token("ana", team="core", budget_usd=0.10, team_budget_usd=0.15)
    await store.create_token("bo", team="core")
    ana = await store.create_group(new_group("a"), new_tasks(1), )
    bo = await store.create_group(new_group("b"), new_tasks(1))
    await store.assign_group_user(ana.id, "ana")
    await store.assign_group_user(bo.id, "bo")
    limits = BudgetLimits(daily=100.0)
    a = await store.begin_attempt(None, ana.id, "m", "p", "speed", 0.08, True, limits)
    await store.settle_attempt(a.id, status="succeeded", cost=0.08, cost_source="provider_reported")
    with pytest.raises(BudgetExceeded, match="user ana"):
        await store.begin_attempt(None, ana.id, "m", "p", "speed", 0.05, True, limits)
    b = await store.begin_attempt(None, bo.id, "m", "p", "speed", 0.05, True, limits)  # bo has no own cap
    await store.settle_attempt(b.id, status="succeeded", cost=0.05, cost_source="provider_reported")
    with pytest.raises(BudgetExceeded, match="team core"):
        await store.begin_attempt(None, bo.id, "m", "p", "speed", 0.05, True, limits)


async def test_a_group_is_visible_to_its_user_and_admins_and_to_no_one_else(store: Store) -> None:
    await store.create_token("ana")
    await store.create_token("root", role="admin")
    group = await store.create_group(new_group("a"), new_tasks(1))
    await store.assign_group_user(group.id, "ana")
    assert await store.group_user(group.id) == "ana"
    from server.store.tokens import Caller

    assert store.may_see("ana", Caller("ana"))
    assert store.may_see("ana", Caller("root", role="admin"))
    assert not store.may_see("ana", Caller("bo"))
