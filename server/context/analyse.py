"""Read files into what the index stores: their chunks, their terms, and which hold secrets.

`analyse` is a pure function of (path, bytes); the index only writes its results. Many files
at once (a first index, a branch switch) are analysed in worker processes, one per core
(`server.context.analyse_workers`), while the index writes the results in order as they come.
Below `POOL_MIN_FILES` everything runs in the caller. `PWM_CONTEXT_WORKERS` sets the number
of workers (0 or 1: none).
"""

from __future__ import annotations

import bisect
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from server.context.chunking import chunk_file
from server.context.files import decode_text
from server.context.secrets import secret_offsets
from server.context.terms import joined_terms
from server.context.types import Chunk

__all__ = ["POOL_MIN_FILES", "Analysed", "analyse", "analyse_many", "analyse_stream"]

_NEWLINE = re.compile("\n")
POOL_MIN_FILES = 300  # below this, starting workers costs more than it saves


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
    offsets = secret_offsets(text)
    newlines = [m.start() for m in _NEWLINE.finditer(text)] if offsets else []
    secret_lines = {bisect.bisect_left(newlines, offset) + 1 for offset in offsets}  # 1-based line of each
    out = []
    for chunk in chunk_file(path, text):
        body = "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        secret = any(chunk.start_line <= n <= chunk.end_line for n in secret_lines)
        names = joined_terms(chunk.name + " " + " ".join(chunk.defines))
        out.append((chunk, len(body) + 1, secret, names, joined_terms(body)))
    return Analysed(n_lines, len(text), False, tuple(out))


def _analyse_item(item: tuple[str, bytes]) -> Analysed:
    return analyse(*item)


def analyse_many(items: Sequence[tuple[str, bytes]]) -> list[Analysed]:
    """`analyse` over many files, in order."""
    return list(analyse_stream(items))


def workers() -> int:
    """How many worker processes a large batch gets: `PWM_CONTEXT_WORKERS`, else one per core."""
    if not sys.executable:  # embedded without an interpreter to start
        return 1
    configured = os.environ.get("PWM_CONTEXT_WORKERS", "").strip()
    if configured.isdigit():
        return int(configured)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(cores, 8)


def analyse_stream(items: Sequence[tuple[str, bytes]], min_files: int = POOL_MIN_FILES) -> Iterator[Analysed]:
    """`analyse` over many files, yielded in order as they are ready (in worker processes when
    there are at least `min_files`)."""
    count = workers()
    if len(items) < max(1, min_files) or count < 2:
        return map(_analyse_item, items)
    from server.context.analyse_workers import analyse_in_workers

    return analyse_in_workers(items, count)
