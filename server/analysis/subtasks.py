"""Split a description into independent pieces of work, when it joins several.

A piece boundary is a numbered or bulleted list item, a line break, a semicolon, "then" /
"after that" / "also", or an " and " followed by a new imperative verb ("Add auth middleware
and implement caching"). An " and " inside one piece of work ("with add/remove
functionality", "products, orders, and users", "authentication and session management") is
not a boundary, because no verb starts the part after it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SUBTASKS", "split_subtasks"]

# More pieces than this is a document, not a task list: keep the first ones.
MAX_SUBTASKS = 20

# Verbs that start a piece of coding work in task lists.
_VERBS = (
    "add", "build", "check", "clean", "configure", "convert", "create", "debug", "delete", "deploy",
    "design", "document", "drop", "enable", "extract", "fix", "generate", "handle", "implement",
    "improve", "install", "integrate", "investigate", "migrate", "move", "optimize", "optimise",
    "remove", "rename", "refactor", "replace", "resolve", "review", "rewrite", "run", "set up",
    "setup", "ship", "split", "support", "test", "update", "upgrade", "validate", "verify", "work",
    "write",
)
_VERB = r"(?:" + "|".join(re.escape(v) for v in _VERBS) + r")\b"

_LIST_ITEM = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*\u2022])\s+")
_HARD_BREAK = re.compile(
    r"\s*(?:;|\n+|,?\s+(?:and\s+)?then\s+|,?\s+after that,?\s+|\.\s+(?:also|then|next|finally),?\s+|\.\s+(?=" + _VERB + "))",
    re.IGNORECASE,
)
_AND_VERB = re.compile(r",?\s+(?:and|also|plus)\s+(?=" + _VERB + ")", re.IGNORECASE)
_STARTS_WITH_VERB = re.compile(r"^\s*" + _VERB, re.IGNORECASE)


def _clean(piece: str) -> str:
    return piece.strip().strip(".,;:").strip()


def split_subtasks(description: str) -> tuple[str, ...]:
    """The independent pieces of `description`, or () when it is one piece of work."""
    text = description.strip()
    if not text:
        return ()
    if len(_LIST_ITEM.findall(text)) >= 2:
        items = [_clean(p) for p in _LIST_ITEM.split(text)]
        pieces = [p for p in items[1:] if p]  # items[0] is the lead-in before the first bullet
    else:
        pieces = []
        for part in _HARD_BREAK.split(text):
            part = _clean(part)
            if not part:
                continue
            # Split on "and <verb>" only when this part itself starts with a verb: then both
            # halves are instructions, not one instruction with a compound object.
            halves = [h for h in (_clean(x) for x in _AND_VERB.split(part)) if h]
            if _STARTS_WITH_VERB.match(part) and all(len(h.split()) >= 2 for h in halves):
                pieces.extend(halves)
            else:
                pieces.append(part)
    return tuple(pieces[:MAX_SUBTASKS]) if len(pieces) >= 2 else ()
