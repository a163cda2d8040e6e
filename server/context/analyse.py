"""Read one file into what the index stores: its chunks, their terms, and which hold secrets.

A pure function of (path, bytes); the index only writes its results. It runs in the calling
thread: a process pool would halve a first index on two idle cores, but spawned workers
re-import the main module (the MCP server's own entry point) and forked ones inherit the
event loop's threads, so the first index pays its cost once instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.context.chunking import chunk_file
from server.context.files import decode_text
from server.context.secrets import secret_offsets
from server.context.terms import joined_terms
from server.context.types import Chunk

__all__ = ["Analysed", "analyse", "analyse_many"]

@dataclass(frozen=True)
class Analysed:
    n_lines: int
    chars: int
    binary: bool
    chunks: tuple[tuple[Chunk, int, bool, str, str], ...] = ()  # chunk, chars, secret, names terms, body terms


def analyse(path: str, data: bytes) -> Analysed:
    """The index's view of one file (binary content: no chunks)."""
    text = decode_text(data)
    if text is None:
        return Analysed(0, 0, True)
    lines = text.split("\n")
    n_lines = len(lines) - (1 if text.endswith("\n") else 0)
    if not text.strip():
        return Analysed(n_lines, len(text), False)
    secret_lines = {text.count("\n", 0, offset) + 1 for offset in secret_offsets(text)}
    out = []
    for chunk in chunk_file(path, text):
        body = "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        secret = any(chunk.start_line <= n <= chunk.end_line for n in secret_lines)
        names = joined_terms(chunk.name + " " + " ".join(chunk.defines))
        out.append((chunk, len(body) + 1, secret, names, joined_terms(body)))
    return Analysed(n_lines, len(text), False, tuple(out))


def analyse_many(items: Sequence[tuple[str, bytes]]) -> list[Analysed]:
    """`analyse` over many files, in order."""
    return [analyse(p, d) for p, d in items]
