"""Amounts and counts as people read them (server/formatting.py), and where they are shown."""

from __future__ import annotations

from server.formatting import plural, usd
from server.scheduler.status import budget_warnings
from server.store import BudgetStatus


def test_small_budgets_keep_their_significant_digits() -> None:
    assert usd(0.004) == "$0.004"
    assert usd(0.0062) == "$0.0062"
    assert usd(0.000032) == "$0.000032"
    assert usd(5) == "$5.00"
    assert usd(0.5) == "$0.50"
    assert usd(1234.5) == "$1,234.50"
    assert usd(0) == "$0.00"
    assert usd(-0.004) == "-$0.004"


def test_counts_take_the_singular_for_one() -> None:
    assert plural(1, "call") == "1 call"
    assert plural(0, "call") == "0 calls"
    assert plural(1200, "call") == "1,200 calls"
    assert plural(2, "entry", "entries") == "2 entries"


def test_a_budget_below_a_cent_reads_as_its_own_amount_in_the_warning() -> None:
    from server.store import PeriodStatus

    period = PeriodStatus(name="daily", limit=0.004, spent=0.0062, reserved=0.0, fraction=1.55, state="stop",
                          starts_at=None, resets_at=None)
    [text] = budget_warnings(BudgetStatus(periods=[period], state="stop"))
    assert text.startswith("daily budget: $0.0062 of $0.004 used (155%)"), text
