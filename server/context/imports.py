"""The import graph of a snapshot's Python files: which file imports which.

`import a.b`, `from a.b import c` (c a module or a name in a.b) and relative imports
(`from . import c`, `from ..a import b`) are resolved to the snapshot's files by module path,
with a leading source folder (`src/`) or any leading folders dropped. A file's imports are read
once per content (keyed by path and blob, not by the row id, which SQLite gives to a new row once
the old one is collected), so a re-index re-reads only the changed files.
"""

from __future__ import annotations

import re
import weakref
from pathlib import PurePosixPath

from server.context.index import DocRow, RepoIndex, Snapshot

__all__ = ["import_graph"]

_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)|import[ \t]+([^\n#]+))", re.M)
_NAMES = re.compile(r"[A-Za-z_][\w.]*")

# Per index: (path, blob) -> its import statements' dotted names (relative ones resolved).
_PARSED: weakref.WeakKeyDictionary[RepoIndex, dict[tuple[str, str], tuple[tuple[str, ...], ...]]] = (
    weakref.WeakKeyDictionary())
# Per index: the last graph built and the rows it was built over (a warm selection reuses it).
_GRAPHS: weakref.WeakKeyDictionary[RepoIndex, tuple[frozenset[DocRow], dict[int, set[int]]]] = (
    weakref.WeakKeyDictionary())
_KEEP_PARSED = 20_000  # parsed files kept per index beyond the current snapshot's


def _module_of(path: str) -> tuple[str, ...]:
    parts = PurePosixPath(path).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: str, text: str) -> tuple[tuple[str, ...], ...]:
    """Per import statement, the dotted names it may import: `import a, b.c` -> (a,), (b.c,);
    `from a import b, c` -> (a, a.b, a.c): the module `a`, or its submodules `b` and `c`."""
    package = PurePosixPath(path).parent.parts
    out: list[tuple[str, ...]] = []
    for match in _IMPORT.finditer(text):
        source, names, plain = match.groups()
        if plain is not None:
            out.extend((n,) for n in _NAMES.findall(plain) if n != "as")
            continue
        dots = len(source) - len(source.lstrip("."))
        base = source[dots:]
        if dots:
            up = package[:len(package) - (dots - 1)] if dots - 1 <= len(package) else ()
            base = ".".join([*up, base] if base else up)
        if base:
            members = [base + "." + n for n in _NAMES.findall(names.strip("()")) if n != "as" and "." not in n]
            out.append((base, *members))
    return tuple(out)


def _resolve(statement: tuple[str, ...], by_module: dict[str, int]) -> set[int]:
    """The files one import statement names: its submodules where it imports modules, else its module."""
    found = {t for n in statement[1:] if (t := by_module.get(n)) is not None}
    if not found and (t := by_module.get(statement[0])) is not None:
        found.add(t)
    return found


def import_graph(snapshot: Snapshot) -> dict[int, set[int]]:
    """{doc: the docs of this snapshot it imports} over the snapshot's `.py` files."""
    docs = frozenset(snapshot.docs.values())
    last = _GRAPHS.get(snapshot.index)
    if last is not None and last[0] == docs:
        return last[1]
    parsed = _PARSED.setdefault(snapshot.index, {})
    if len(parsed) > _KEEP_PARSED:
        current = {(d.path, d.blob) for d in docs}
        parsed = _PARSED[snapshot.index] = {k: v for k, v in parsed.items() if k in current}
    by_module: dict[str, int] = {}
    py = [d for d in snapshot.docs.values() if d.path.endswith(".py")]
    for d in py:
        parts = _module_of(d.path)
        # a/src/pkg/mod -> also src.pkg.mod and pkg.mod (not `mod` alone: `import types` is the
        # standard library's, not pkg/types.py); the first claim wins.
        for k in range(max(1, len(parts) - 1)):
            by_module.setdefault(".".join(parts[k:]), d.id)
    graph: dict[int, set[int]] = {}
    for d in py:
        names = parsed.get((d.path, d.blob))
        if names is None:
            names = parsed[d.path, d.blob] = _imported(d.path, snapshot.text(d.id))
        targets = {t for statement in names for t in _resolve(statement, by_module)} - {d.id}
        if targets:
            graph[d.id] = targets
    _GRAPHS[snapshot.index] = (docs, graph)
    return graph
