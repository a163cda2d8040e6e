"""How a selected piece of a file is written into a prompt.

Each piece is a header with its path and line range, then the lines in a fenced block, so the
model can cite and patch exact lines. Token counts of a selection are counts of exactly this
text, so the budget holds for what is sent.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from server.analysis.tokens import count_tokens
from server.context.types import Selection

__all__ = ["fence_language", "piece_tokens", "render_piece", "render_selection"]

_LANG = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "jsx",
         ".ts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust", ".md": "markdown", ".toml": "toml",
         ".json": "json", ".yml": "yaml", ".yaml": "yaml", ".sh": "sh", ".c": "c", ".h": "c", ".cpp": "cpp",
         ".java": "java", ".rb": "ruby", ".rst": "rst", ".html": "html", ".css": "css", ".sql": "sql"}


def fence_language(path: str) -> str:
    return _LANG.get(PurePosixPath(path).suffix.lower(), "")


def render_piece(path: str, start_line: int, end_line: int, text: str) -> str:
    """`text` (lines `start_line`..`end_line` of `path`) as it appears in a prompt."""
    fence = "````" if "```" in text else "```"
    body = text if text.endswith("\n") else text + "\n"
    return f"### {path} (lines {start_line}-{end_line})\n{fence}{fence_language(path)}\n{body}{fence}\n"


def piece_tokens(path: str, start_line: int, end_line: int, text: str) -> int:
    """Tokens of `render_piece(...)`, plus one for the blank line between pieces."""
    return count_tokens(render_piece(path, start_line, end_line, text)) + 1


def render_selection(selection: Selection) -> str:
    """The whole selection as one prompt block: a heading, every piece in rank order, the map."""
    if not selection.items and not selection.repo_map:
        return ""
    source = f"commit {selection.commit[:12]}" if selection.commit else "the working tree"
    if selection.mode == "summary":
        head = (f"## The workspace ({source})\n"
                "For a high-level task: how the repository is organised, with any code named for it.\n\n")
    else:
        head = (f"## Code from the workspace ({source})\n"
                "Selected for this task; line numbers are the file's own.\n\n")
    pieces = [render_piece(i.path, i.start_line, i.end_line, t) for i, t in zip(selection.items, selection.texts, strict=True)]
    return head + "\n".join(pieces) + ("\n" + selection.repo_map if selection.repo_map else "")
