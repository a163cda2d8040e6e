"""How figures read in text: USD amounts with enough precision, and counted nouns.

Budgets can be fractions of a cent ($0.004), so a fixed two decimals would print "$0.00";
every human-readable amount goes through `usd` instead.
"""

from __future__ import annotations

import math

__all__ = ["plural", "usd"]


def usd(amount: float) -> str:
    """`amount` as dollars: two decimals from a cent up, else two significant digits.

    >>> usd(5), usd(0.5), usd(0.004), usd(0.0062), usd(1234.5)
    ('$5.00', '$0.50', '$0.004', '$0.0062', '$1,234.50')
    """
    size = abs(amount)
    if size == 0 or size >= 0.01 or not math.isfinite(size):
        return f"{'-' if amount < 0 else ''}${size:,.2f}"
    decimals = min(-math.floor(math.log10(size)) + 1, 10)
    text = f"{size:.{decimals}f}".rstrip("0")
    return f"{'-' if amount < 0 else ''}${text}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` with its noun: "1 call", "2 calls", "1,200 calls"."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
