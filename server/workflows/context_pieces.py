"""The workspace context a follow-up may add: of the workspace-context selector's pieces for the
follow-up's message, those the message points at (a file it names, a symbol it mentions), each
as it is written into a prompt and keyed by path and lines (the key `server.workflows.followup`
uses to send a piece only once per thread)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from pathlib import Path

from server.settings import Settings
from server.workflows.followup import ContextPiece, ContextSelector

__all__ = ["FOLLOW_UP_BUDGET_TOKENS", "workspace_selector"]

FOLLOW_UP_BUDGET_TOKENS = 4000
# A follow-up adds only what its message points at (files it names, symbols it mentions), never
# the ranked fill a first turn gets: what the thread already holds is the rest of its context.
POINTED_AT = frozenset({"requested", "symbol"})


def workspace_selector(settings: Settings, budget_tokens: int = FOLLOW_UP_BUDGET_TOKENS) -> ContextSelector | None:
    """A selector over the workspace-context package, or None where this build has none."""
    try:
        context = importlib.import_module("server.context")
    except ImportError:
        return None
    options = context.ContextOptions(getattr(settings, "cache_dir", settings.data_dir / "cache"),
                                     tuple(getattr(settings, "context_exclude", ())))

    async def select(workspace: Path, message: str, files: Sequence[str]) -> list[ContextPiece]:
        selection = await asyncio.to_thread(context.select_context, workspace, message, list(files), budget_tokens,
                                            options)
        return [ContextPiece(f"{i.path}:{i.start_line}-{i.end_line}",
                             context.render_piece(i.path, i.start_line, i.end_line, text), int(i.tokens))
                for i, text in zip(selection.items, selection.texts, strict=True) if i.reason in POINTED_AT]

    return select
