"""Reading a tool's reply in tests: the text of its first content item, typed."""

from __future__ import annotations

from mcp import types


def reply_text(result: types.CallToolResult) -> str:
    """The first content item's text (every tool here answers with text first)."""
    first = result.content[0]
    assert isinstance(first, types.TextContent), first
    return first.text
