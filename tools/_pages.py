"""One page of a reply made of several lists: the same `offset` and `limit` cut each of them.

The cost report (rows, recommendations) and the routing insights (models, cells, task types,
repositories) grow with what was recorded: 61 groups made a 22k-token report, past the 10k at
which clients warn. A page holds items `offset` to `offset + limit` of every list, says how many
each list holds, and gives the `next_offset` while any list has more, so a caller pages them all
with one number, as `get_parallel_group_status` pages its tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Page", "page_of", "page_words"]


@dataclass(frozen=True)
class Page:
    lists: dict[str, Any]  # each list (or mapping, cut in its own order) of the page
    totals: dict[str, int]  # how many items each whole list holds
    offset: int
    next_offset: int | None  # None: no list has more


def page_of(lists: Mapping[str, Sequence[Any] | Mapping[str, Any]], offset: int, limit: int) -> Page:
    """Items `offset` to `offset + limit` of each of `lists` (a mapping keeps its first keys)."""
    cut: dict[str, Any] = {}
    totals: dict[str, int] = {}
    for name, items in lists.items():
        totals[name] = len(items)
        if isinstance(items, Mapping):
            cut[name] = dict(list(items.items())[offset:offset + limit])
        else:
            cut[name] = list(items[offset:offset + limit])
    more = any(total > offset + limit for total in totals.values())
    return Page(cut, totals, offset, offset + limit if more else None)


def page_words(page: Page, nouns: Mapping[str, str]) -> str:
    """What the page holds, for a reply's summary: "rows 1-10 of 61, recommendations 1-7 of 7;
    next_offset 10." (`nouns` names each list as the summary says it)."""
    parts = []
    for name, noun in nouns.items():
        total, shown = page.totals[name], len(page.lists[name])
        parts.append(f"{noun} {page.offset + 1}-{page.offset + shown} of {total}" if shown else f"{noun}: none here of {total}")
    tail = f"; next_offset {page.next_offset}." if page.next_offset is not None else "."
    return ", ".join(parts) + tail
