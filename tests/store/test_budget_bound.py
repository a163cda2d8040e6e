"""Four processes on one database, a provider charging 5x the catalogue: the budget bound holds.

The bound (README, "What the budget guarantees"): spend ends at most one call's estimate past
the stop threshold once each model's ratio is learned. Without learning the same run overspends
by several calls, which is what the baseline half of this test shows the check can see.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

from server.store import Store
from tests.store.budget_workers import Spend, spend_until_refused
from tests.store.helpers import query
from tests.support.loopback_provider import LoopbackProvider, Reply

SPAWN = multiprocessing.get_context("spawn")
ESTIMATE, REAL, CAP, DAILY = 0.001, 0.005, 0.004, 0.20


def _run(db: str | Path, url: str, learning: bool) -> float:
    job = Spend(str(db), url, "mid-a", ESTIMATE, CAP, DAILY, concurrency=4, learning=learning)
    procs = [SPAWN.Process(target=spend_until_refused, args=(job, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    ((spent, running),) = query(
        db, "SELECT sum(charged_usd), sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END) FROM attempts")
    assert running == 0
    return float(spent)


async def test_four_processes_with_prices_five_times_the_catalogue_overspend_by_at_most_one_estimate(
    new_db: Callable[[str], str | Path],
) -> None:
    with LoopbackProvider(latency=0.02) as lp:
        lp.set_default(Reply("ok", cost=REAL))
        learned_db = new_db("learned")
        await (await Store.open(learned_db)).close()
        spent = _run(learned_db, lp.openai_url, learning=True)
        blind = None
        if isinstance(learned_db, Path):  # the baseline once (it shows the same on both backends)
            blind_db = new_db("blind")
            await (await Store.open(blind_db)).close()
            blind = _run(blind_db, lp.openai_url, learning=False)
    assert spent <= DAILY + ESTIMATE + 1e-9
    assert spent >= DAILY - 2 * REAL  # the budget was really used, not refused early
    # The check can fail: a ledger that does not learn overspends by several estimates here.
    assert blind is None or blind > DAILY + 3 * ESTIMATE
