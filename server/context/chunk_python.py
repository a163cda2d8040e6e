"""Cut Python source at symbol boundaries with the standard library's `ast`.

Top-level functions and classes are one chunk each (decorators and the comments just above
them included); a large class is cut into its header (class line, docstring, class-level
assignments) and one chunk per method; module-level statements between definitions are
grouped. Anything longer than `max_lines` is cut into overlapping windows, keeping its name.
"""

from __future__ import annotations

import ast
import warnings

from server.context.types import Chunk

__all__ = ["chunk_python"]

MAX_LINES = 120
WINDOW = 80
OVERLAP = 20


def _start(node: ast.stmt, lines: list[str]) -> int:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    # Comments directly above belong to the definition.
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def _signature(lines: list[str], node: ast.stmt) -> str:
    return lines[node.lineno - 1].strip()[:200]


def _assigned(node: ast.stmt) -> list[str]:
    names: list[str] = []
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.append(sub.id)
    return names


def _windows(start: int, end: int, kind: str, name: str, signature: str, defines: tuple[str, ...]) -> list[Chunk]:
    if end - start + 1 <= MAX_LINES:
        return [Chunk(start, end, kind, name, signature, defines)]
    out: list[Chunk] = []
    s = start
    while True:
        e = min(end, s + WINDOW - 1)
        first = s == start
        out.append(Chunk(s, e, kind, name, signature if first else "", defines if first else ()))
        if e >= end:
            return out
        s = e - OVERLAP + 1


def _defs(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)


def _group_module_code(body: list[ast.stmt], lines: list[str], kind: str, prefix: str) -> list[Chunk]:
    """Chunks for a statement list: definitions alone, the code between them grouped."""
    out: list[Chunk] = []
    pending: list[tuple[int, int, list[str]]] = []

    def flush() -> None:
        if pending:
            names = tuple(n for _, _, ns in pending for n in ns)
            out.extend(_windows(pending[0][0], pending[-1][1], kind, prefix.rstrip("."), "", names))
            pending.clear()

    for node in body:
        end = node.end_lineno or node.lineno
        if _defs(node):
            flush()
            out.extend(_definition(node, lines, prefix))
        else:
            start = node.lineno
            if pending and start - pending[-1][1] > 2 and pending[-1][1] - pending[0][0] > 30:
                flush()
            pending.append((_start(node, lines), end, _assigned(node)))
    flush()
    return out


def _definition(node: ast.stmt, lines: list[str], prefix: str) -> list[Chunk]:
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    start, end = _start(node, lines), node.end_lineno or node.lineno
    qualified = prefix + node.name
    signature = _signature(lines, node)
    if isinstance(node, ast.ClassDef):
        if end - start + 1 <= MAX_LINES:
            return [Chunk(start, end, "class", qualified, signature, (node.name,))]
        first_def = next((n for n in node.body if _defs(n)), None)
        header_end = (_start(first_def, lines) - 1) if first_def is not None else end
        out = _windows(start, max(start, header_end), "class", qualified, signature, (node.name,))
        members = node.body[node.body.index(first_def):] if first_def is not None else []
        out.extend(_group_module_code(members, lines, "class", qualified + "."))
        return out
    kind = "method" if prefix else "function"
    return _windows(start, end, kind, qualified, signature, (node.name,))


def chunk_python(text: str) -> list[Chunk] | None:
    """Chunks of a Python file in line order, or None when it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in old code
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    lines = text.split("\n")
    chunks = _group_module_code(tree.body, lines, "module", "")
    return sorted(chunks, key=lambda c: (c.start_line, c.end_line))
