"""A compact map of a repository: its paths and their top-level signatures, most relevant first.

Given the room left in a budget, the map lists the files the ranking touched (best first),
then every other candidate file, each with the signatures of its top-level definitions while
they fit; the map stops at the room. It tells a model what exists beyond the pieces it sees.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.analysis.tokens import count_tokens
from server.context.index import Snapshot
from server.context.rank import Ranked

__all__ = ["MAP_HEADER", "build_repo_map"]

MAP_HEADER = "### Repository map (paths and top-level definitions)\n"
_MIN_ROOM = 40
_MAX_SIGNATURES = 12


def build_repo_map(snapshot: Snapshot, ranked: Sequence[Ranked], room: int) -> tuple[str, int]:
    """The map text and its tokens (0 and "" when `room` is too small for anything useful)."""
    if room < _MIN_ROOM:
        return "", 0
    order = list(dict.fromkeys(r.chunk.doc for r in ranked))
    first = set(order)
    order.extend(sorted((d for d in snapshot.docs if d not in first), key=lambda d: snapshot.docs[d].path))
    signatures = snapshot.chunks_of(order[:200])
    lines = [MAP_HEADER]
    used = count_tokens(MAP_HEADER) + 1
    for doc in order:
        entry = snapshot.docs[doc].path + "\n"
        sigs = [r.signature for r in signatures.get(doc, []) if r.signature and "." not in r.name and not r.secret]
        for sig in sigs[:_MAX_SIGNATURES]:
            entry += f"  {sig}\n"
        cost = count_tokens(entry)
        if used + cost > room:
            cost = count_tokens(snapshot.docs[doc].path + "\n")
            if used + cost > room:
                break
            entry = snapshot.docs[doc].path + "\n"
        lines.append(entry)
        used += cost
    if len(lines) == 1:
        return "", 0
    text = "".join(lines)
    tokens = count_tokens(text) + 1
    while tokens > room and len(lines) > 1:
        lines.pop()
        text = "".join(lines)
        tokens = count_tokens(text) + 1
    return (text, tokens) if len(lines) > 1 else ("", 0)
