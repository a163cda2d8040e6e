"""Each attempt records the repository its task worked in (m008), on SQLite and PostgreSQL, and
the performance reader hands routing that key together with the checks' verdict."""

from __future__ import annotations

from server.perf import PerfReader
from server.store import BudgetLimits, Store
from tests.store.helpers import new_group, new_tasks


async def test_an_attempt_keeps_its_repository_and_the_reader_joins_the_verdict(store: Store) -> None:
    group = await store.create_group(new_group(), new_tasks(2))
    one, two = await store.list_tasks(group.id)
    checked = await store.begin_attempt(one.id, group.id, "m/a", "p", "speed", 0.0, False, BudgetLimits(),
                                        repo="github.com/acme/api")
    plain = await store.begin_attempt(two.id, group.id, "m/a", "p", "speed", 0.0, False, BudgetLimits())
    for attempt in (checked, plain):
        await store.settle_attempt(attempt.id, status="succeeded", cost=0.0, cost_source="catalog")
    await store.record_validation(checked.id, one.id, group.id, passed=False, status="failed", base_commit=None,
                                  report_json="{}")
    assert [a.repo for a in await store.list_attempts(group_id=group.id)] == ["github.com/acme/api", None]

    reader = PerfReader.for_store(store)
    try:
        facts = {f.attempt_id: f for f in await reader.attempt_facts(0.0)}
    finally:
        await reader.close()
    assert (facts[checked.id].repo, facts[checked.id].validation_passed, facts[checked.id].success) == (
        "github.com/acme/api", False, False)
    assert (facts[plain.id].repo, facts[plain.id].validation_passed, facts[plain.id].success) == ("", None, True)
