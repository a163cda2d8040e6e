"""Cut a file into chunks: by its parser where we have one, else at definition-looking lines.

Python uses `ast`, JavaScript/TypeScript/Go/Rust use tree-sitter; a file neither parses
(another language, Python 2, a syntax error) is cut at lines that start a definition
(`def`, `class`, `function`, `fn`, `func`, ...) near the left margin, and anything still
long into 80-line windows overlapping by 20. The result covers every line of the file once,
in order (except where long pieces overlap): the gaps between definitions go to the piece
below them, so a comment or blank line above a function travels with it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from server.context.chunk_python import chunk_python
from server.context.chunk_treesitter import LANGUAGES, chunk_treesitter
from server.context.types import Chunk

__all__ = ["chunk_file"]

WINDOW = 80
OVERLAP = 20
MAX_LINES = 120
_DEFINITION_LINE = re.compile(
    r"^(?:\s{0,4})(?:@\w|(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?"
    r"(?:def|class|function|fn|func|impl|struct|enum|trait|interface|type|module|sub|proc)\s+[\w$<(])"
)
_NAME_AFTER = re.compile(r"(?:def|class|function|fn|func|struct|enum|trait|interface|type|module|sub|proc)\s+([\w$]+)")


def _windows(start: int, end: int, kind: str = "window", name: str = "") -> list[Chunk]:
    if end - start + 1 <= MAX_LINES:
        return [Chunk(start, end, kind, name)]
    out: list[Chunk] = []
    s = start
    while True:
        e = min(end, s + WINDOW - 1)
        out.append(Chunk(s, e, kind, name))
        if e >= end:
            return out
        s = e - OVERLAP + 1


def _by_definition_lines(lines: list[str]) -> list[Chunk]:
    starts = [i + 1 for i, line in enumerate(lines) if _DEFINITION_LINE.match(line)]
    # A decorator run starts the definition under it.
    bounds = [s for k, s in enumerate(starts) if not (k and starts[k - 1] == s - 1 and lines[s - 2].lstrip().startswith("@"))]
    if not bounds or bounds[0] != 1:
        bounds.insert(0, 1)
    out: list[Chunk] = []
    for k, s in enumerate(bounds):
        e = bounds[k + 1] - 1 if k + 1 < len(bounds) else len(lines)
        match = _NAME_AFTER.search(lines[s - 1])
        name = match.group(1) if match else ""
        pieces = _windows(s, e, "function" if name else "window", name)
        if name:
            pieces[0] = Chunk(pieces[0].start_line, pieces[0].end_line, pieces[0].kind, name,
                              lines[s - 1].strip()[:200], (name,))
        out.extend(pieces)
    return out


def _fill_gaps(chunks: list[Chunk], n_lines: int) -> list[Chunk]:
    """Make the chunks cover lines 1..n_lines: each takes the uncovered lines above it."""
    out: list[Chunk] = []
    covered = 0
    for chunk in sorted(chunks, key=lambda c: (c.start_line, -c.end_line)):
        if chunk.end_line <= covered:
            if chunk.start_line > 1 and chunk.end_line - chunk.start_line < 0:
                continue
            out.append(chunk)
            continue
        start = min(chunk.start_line, covered + 1)
        out.append(Chunk(start, min(chunk.end_line, n_lines), chunk.kind, chunk.name, chunk.signature, chunk.defines))
        covered = max(covered, chunk.end_line)
    if covered < n_lines:
        if out and n_lines - covered <= 3:
            last = out[-1]
            out[-1] = Chunk(last.start_line, n_lines, last.kind, last.name, last.signature, last.defines)
        else:
            out.extend(_windows(covered + 1, n_lines, "module"))
    return out


def chunk_file(path: str, text: str) -> list[Chunk]:
    """The chunks of `text` (the content of `path`), covering every line, in line order."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    n_lines = max(1, len(lines))
    extension = PurePosixPath(path).suffix.lower()
    chunks: list[Chunk] | None = None
    if extension in (".py", ".pyi", ".pyw"):
        chunks = chunk_python(text)
    elif extension in LANGUAGES:
        chunks = chunk_treesitter(text, extension)
    if not chunks:
        chunks = _by_definition_lines(lines) if len(lines) > MAX_LINES or _DEFINITION_LINE.search(text) else []
    if not chunks:
        chunks = _windows(1, n_lines, "module")
    # Long pieces from a parser are windowed too, keeping their name on the first window.
    sized: list[Chunk] = []
    for c in chunks:
        if c.end_line - c.start_line + 1 > MAX_LINES and c.kind not in ("window",):
            pieces = _windows(c.start_line, c.end_line, c.kind, c.name)
            pieces[0] = Chunk(pieces[0].start_line, pieces[0].end_line, c.kind, c.name, c.signature, c.defines)
            sized.extend(pieces)
        else:
            sized.append(c)
    return _fill_gaps(sized, n_lines)
