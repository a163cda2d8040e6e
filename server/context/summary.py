"""A workspace summary for a high-level task: what exists and how it fits, not the code itself.

A task that asks for a design, a plan or an architecture rather than a change
(`server.analysis.answer_form`: "Design a plugin system for provider backends") is better served by the
shape of the repository than by function bodies: the seeds' "summarized context for high-level
tasks" (module structure, public signatures, the dependency graph, recent commits) at a tenth of
the tokens. `build_summary` writes, within the room it is given:

0. the README's first paragraph, when there is one;
1. the files the ranking put first, best first (then, while fewer than 40, the source files most
   imported by others), each with its module docstring's first line,
   its public definitions' signatures (methods under their classes for the first few files) and
   what it imports from and is imported by within the repository, in about two thirds of the room;
2. every other file, as one line per directory;
3. the latest commit subjects, when the caller passes them.

Nothing a secret scan flags is written: definitions in chunks flagged as secret are skipped, and
docstring lines and commit subjects holding a token-shaped secret are left out.
"""

from __future__ import annotations

import ast
import re
import weakref
from collections.abc import Sequence

from server.analysis.tokens import count_tokens
from server.context.imports import import_graph
from server.context.index import ChunkRow, RepoIndex, Snapshot
from server.context.rank import Ranked, RankParams, file_prior
from server.context.secrets import has_secret

__all__ = ["SUMMARY_BUDGET", "SUMMARY_HEADER", "build_summary"]

SUMMARY_HEADER = "### Workspace summary (structure, definitions and imports; no code bodies)\n"
# A summary's default budget: the seeds' 10-20 KB of summaries for a design task.
SUMMARY_BUDGET = 6000
_DETAILED_FILES = 8  # the first files list their methods too
_DETAIL_SHARE = 0.65  # of the room, for the relevant files' entries
_TOP_FILES = 40  # files listed with their definitions before the directory lines
_MAX_SIGNATURES = 16
_MAX_LINKS = 6
_MAX_NAMES = 20  # file names per directory line
_MIN_ROOM = 40
_MAX_OUTLINES = 20_000
_PRIORS = RankParams()

# Per index: (path, blob, with methods) -> its docstring line and signatures, so a warm summary
# parses nothing (keyed by content, not doc id: the index may reuse a deleted doc's id).
_OUTLINES: weakref.WeakKeyDictionary[RepoIndex, dict[tuple[str, str, bool], tuple[str, list[str]]]] = (
    weakref.WeakKeyDictionary())


def _first_doc_line(module: ast.Module | None) -> str:
    """The first line of a Python module's docstring ("" without one)."""
    doc = ast.get_docstring(module, clean=True) if module is not None else None
    line = doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""
    return "" if has_secret(line) else line[:160]


def _parse(text: str, path: str) -> ast.Module | None:
    if not path.endswith(".py"):
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _header(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """A definition's header as written (a multi-line signature joined), without its body."""
    end = node.body[0].lineno - 1 if node.body else node.lineno
    if node.body and isinstance(node.body[0], ast.Expr) and node.body[0].lineno == node.lineno:
        end = node.lineno  # a one-line definition: `def f(): ...`
    head = " ".join(line.strip() for line in lines[node.lineno - 1:max(end, node.lineno)])
    return head if len(head) <= 160 else head[:157] + "..."


def _python_outline(module: ast.Module, text: str, methods: bool) -> list[str]:
    """Public classes and functions of a parsed module, each class's public methods under it."""
    lines = text.splitlines()
    out: list[str] = []
    for node in module.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        out.append("  " + _header(lines, node))
        if methods and isinstance(node, ast.ClassDef):
            out += ["    " + _header(lines, m) for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and (not m.name.startswith("_") or m.name == "__init__")]
    return [line for line in out if not has_secret(line)]


def _signatures(rows: Sequence[ChunkRow], methods: bool) -> list[str]:
    """The public definitions' signatures from the index's chunks (any language)."""
    out: list[str] = []
    for r in rows:
        if not r.signature:
            continue
        nested = "." in r.name
        last = r.name.rsplit(".", 1)[-1]
        if (nested and not methods) or (last.startswith("_") and last != "__init__"):
            continue
        out.append(("    " if nested else "  ") + r.signature)
    return out


def _capped(signatures: list[str]) -> list[str]:
    if len(signatures) <= _MAX_SIGNATURES:
        return signatures
    return [*signatures[:_MAX_SIGNATURES], f"  ... (+{len(signatures) - _MAX_SIGNATURES} more definitions)"]


def _links(doc: int, graph: dict[int, set[int]], importers: dict[int, list[int]], snapshot: Snapshot) -> list[str]:
    def names(docs: Sequence[int]) -> str:
        paths = sorted(snapshot.docs[d].path for d in docs if d in snapshot.docs)
        more = f" (+{len(paths) - _MAX_LINKS})" if len(paths) > _MAX_LINKS else ""
        return ", ".join(paths[:_MAX_LINKS]) + more

    out = []
    if graph.get(doc):
        out.append(f"  imports: {names(sorted(graph[doc]))}")
    if importers.get(doc):
        out.append(f"  imported by: {names(importers[doc])}")
    return out


_README = ("README.md", "README.rst", "README.txt", "README")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}$")
_LEGAL = re.compile(r"(?i)\s*(?:copyright|\(c\)|©|licen[sc]ed?\b|all rights reserved)")
_MARKUP = re.compile(r"`|\*\*|\[!\[.*?\]\(.*?\)\]\(.*?\)|!\[.*?\]\(.*?\)|\[(.*?)\]\(.*?\)")


def _about(snapshot: Snapshot) -> str:
    """The README's first paragraph of prose (markup, badges and headings dropped), or ""."""
    docs = {d.path: d.id for d in snapshot.docs.values() if d.path in _README}
    path = next((p for p in _README if p in docs), None)
    if path is None:
        return ""
    paragraph: list[str] = []
    lines = snapshot.text(docs[path]).splitlines()[:120]
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if following and _UNDERLINE.match(following):
            continue  # an rst heading: its text, then a line of = - ~ ...
        if not stripped or stripped.startswith(("#", "=", "-", "~", "..", ":", "[!", "<", "![", "```", "|")):
            if paragraph and not stripped:
                if not _LEGAL.match(paragraph[0]) and len(" ".join(paragraph).split()) >= 4:
                    break
                paragraph = []  # a notice or a bare link: the next paragraph says what it is
            continue
        paragraph.append(_MARKUP.sub(lambda m: m.group(1) or "", stripped))
    text = " ".join(" ".join(paragraph).split())
    return "" if not text or has_secret(text) else text[:400]


def _is_source(path: str) -> bool:
    return file_prior(path, _PRIORS) >= 1.0  # code outside tests, examples, docs and config


def _directory_lines(snapshot: Snapshot, docs: Sequence[int]) -> list[str]:
    by_dir: dict[str, list[str]] = {}
    for d in docs:
        folder, _, name = snapshot.docs[d].path.rpartition("/")
        by_dir.setdefault(folder or ".", []).append(name)
    lines = []
    for folder, names in sorted(by_dir.items()):
        names.sort()
        more = f" (+{len(names) - _MAX_NAMES} more)" if len(names) > _MAX_NAMES else ""
        lines.append(f"{folder}/: {', '.join(names[:_MAX_NAMES])}{more}\n")
    return lines


def build_summary(snapshot: Snapshot, ranked: Sequence[Ranked], room: int,
                  commits: Sequence[str] = ()) -> tuple[str, int]:
    """The summary text and its tokens, within `room` (0 and "" when nothing useful fits)."""
    if room < _MIN_ROOM:
        return "", 0
    graph = import_graph(snapshot)
    importers: dict[int, list[int]] = {}
    for src, targets in graph.items():
        for t in targets:
            importers.setdefault(t, []).append(src)
    order = list(dict.fromkeys(r.chunk.doc for r in ranked))
    if len(order) < _TOP_FILES:
        # A high-level task's words often match little code: the source files most imported come next.
        ranked_docs = set(order)
        order += sorted((d for d in snapshot.docs if d not in ranked_docs and _is_source(snapshot.docs[d].path)),
                        key=lambda d: (-len(importers.get(d, ())), snapshot.docs[d].path))
    top = order[:_TOP_FILES]
    chunks = snapshot.chunks_of(top)

    outlines = _OUTLINES.setdefault(snapshot.index, {})
    if len(outlines) > _MAX_OUTLINES:  # a long-lived server sees many versions of its files
        outlines.clear()

    def entry(k: int, doc: int) -> str:
        d = snapshot.docs[doc]
        methods = k < _DETAILED_FILES
        key = (d.path, d.blob, methods)
        known = outlines.get(key)
        if known is None:
            rows = chunks.get(doc, [])
            text = snapshot.text(doc)
            module = _parse(text, d.path)
            if any(r.secret for r in rows) or module is None:
                # A chunk holding a secret: only the other chunks' own signatures are safe to show.
                known = (_first_doc_line(module), _capped(_signatures([r for r in rows if not r.secret], methods)))
            else:
                known = (_first_doc_line(module), _capped(_python_outline(module, text, methods)))
            outlines[key] = known
        about, signatures = known
        lines = [f"{d.path} ({d.n_lines} lines)" + (f": {about}" if about else ""), *signatures]
        lines += _links(doc, graph, importers, snapshot)
        return "\n".join(lines) + "\n"

    parts: list[str] = [SUMMARY_HEADER]
    used = count_tokens(SUMMARY_HEADER) + 1

    def put(text: str, limit: int) -> bool:
        nonlocal used
        cost = count_tokens(text)
        if used + cost > limit:
            return False
        parts.append(text)
        used += cost
        return True

    subjects = [c.strip()[:120] + "\n" for c in commits if c.strip() and not has_secret(c)]
    # The relevant files get most of the room, but never all of it: the other files' directories
    # and the latest commits are the rest of the picture.
    commit_room = min(count_tokens("".join(subjects)) + 8, room // 10) if subjects else 0
    detail_room = room if len(snapshot.docs) <= len(top) and not subjects else int(room * _DETAIL_SHARE)
    listed: set[int] = set()
    about = _about(snapshot)
    if about:
        put(f"About (README): {about}\n\n", detail_room)
    if top and put("Most relevant files first:\n", detail_room):
        for k, doc in enumerate(top):  # built one at a time: parsing stops where the room does
            if not put(entry(k, doc), detail_room):
                break
            listed.add(doc)
    rest = [d for d in snapshot.docs if d not in listed]
    if rest and put("\nOther files, by directory:\n", room - commit_room):
        for line in _directory_lines(snapshot, rest):
            if not put(line, room - commit_room):
                break
    if subjects and put("\nLatest commits:\n", room):
        for subject in subjects:
            if not put(subject, room):
                break
    if len(parts) == 1:
        return "", 0
    text = "".join(parts)
    tokens = count_tokens(text) + 1
    while tokens > room and len(parts) > 1:  # joined counts can exceed the summed ones by a token or two
        parts.pop()
        text = "".join(parts)
        tokens = count_tokens(text) + 1
    return (text, tokens) if len(parts) > 1 else ("", 0)
