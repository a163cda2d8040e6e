"""Workspace context: what a delegated task's model is shown of its repository.

    selection = select_context(workspace, task, files, budget_tokens, ContextOptions(cache_dir))
    selection.items        # ContextItem(path, start_line, end_line, tokens, reason), rank order
    selection.as_dict()    # {"files": [...], "total_tokens", "budget_tokens", "repo_map_tokens"}

Modules: `files` (which files are candidates), `secrets` (what never leaves), `chunking`
(+ `chunk_python`, `chunk_treesitter`), `terms` (identifier splitting), `index` (the SQLite
FTS5 index per repository), `rank` (scoring), `select` (filling the budget), `repomap`,
`render` (how a piece is written into a prompt), `request` (checking caller input),
`budget` (default budgets and the local-only rule), `service` (the entry point), `waiting`
(the entry point from async code, within a tool call's time).
"""

from server.context.budget import default_budget, workspace_text_allowed
from server.context.render import render_piece, render_selection
from server.context.service import ContextOptions, close_indexes, options_for, select_context
from server.context.types import ContextItem, FileRequest, Selection

__all__ = [
    "ContextItem",
    "ContextOptions",
    "FileRequest",
    "Selection",
    "close_indexes",
    "default_budget",
    "options_for",
    "render_piece",
    "render_selection",
    "select_context",
    "workspace_text_allowed",
]
