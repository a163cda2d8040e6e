"""The workspace context a follow-up may add: of the workspace-context selector's pieces for the
follow-up's message, those the message points at (a file it names, a symbol it mentions), each
as it is written into a prompt and keyed by path and lines (the key `server.workflows.followup`
uses to send a piece only once per thread)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from server.context import options_for, render_piece
from server.context.terms import code_marked, identifiers, is_code_like
from server.context.waiting import deadline_after, select_in_time
from server.settings import Settings
from server.workflows.followup import ContextPiece, ContextSelector

__all__ = ["FOLLOW_UP_BUDGET_TOKENS", "POINTED_AT", "points_at", "workspace_selector"]

FOLLOW_UP_BUDGET_TOKENS = 4000
# A follow-up adds only what its message points at (files it names, symbols it mentions), never
# the ranked fill a first turn gets: what the thread already holds is the rest of its context.
POINTED_AT = frozenset({"requested", "symbol"})


def points_at(message: str, names: Sequence[str], path: str, text: str) -> bool:
    """Whether a ranked piece is one the message points at: its file is named (`util.py`,
    `src/util.py`), or it defines a name the message writes as code (a small file comes whole, so
    its piece is ranked, not a symbol hit, even when the message names its function)."""
    for named in (path, PurePosixPath(path).name):  # as a word of its own: `a.py` is not in "data.py"
        if re.search(rf"(?<![\w./-]){re.escape(named)}(?![\w/-])", message):
            return True
    return any(re.search(rf"^\s*(?:async\s+)?(?:def|class|function|func|fn|struct|interface|type)\s+{re.escape(n)}\b"
                         rf"|^\s*{re.escape(n)}\s*=", text, re.MULTILINE) for n in names)


def workspace_selector(settings: Settings, budget_tokens: int = FOLLOW_UP_BUDGET_TOKENS) -> ContextSelector:
    """A selector over the workspace-context package, with the server's cache and exclusions."""
    options = options_for(settings)

    async def select(workspace: Path, message: str, files: Sequence[str]) -> list[ContextPiece]:
        selection = await select_in_time(workspace, message, files, budget_tokens, options,
                                         deadline=deadline_after(options.wait_s))
        names = [n for n in identifiers(message) if is_code_like(n, code_marked(message))]
        return [ContextPiece(f"{i.path}:{i.start_line}-{i.end_line}",
                             render_piece(i.path, i.start_line, i.end_line, text), int(i.tokens))
                for i, text in zip(selection.items, selection.texts, strict=True)
                if i.reason in POINTED_AT or points_at(message, names, i.path, text)]

    return select
