"""Identifier-split terms: the words a task and a piece of code are compared by.

`snake_case`, `CamelCase`, `HTTPServer`, `path/to/file.py` and dotted names are split into
their lower-case words; a compound identifier also yields its parts joined (`parse_tag` ->
`parse`, `tag`, `parsetag`), so an exact name in a task matches its definition far more
strongly than the common words it is made of. Common English and commit-message words are
dropped from queries (not from documents: BM25's IDF already discounts them there).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

__all__ = ["STOPWORDS", "clean_task", "code_marked", "identifiers", "is_code_like", "joined_terms", "query_terms",
           "split_identifier", "text_terms", "usage_targets"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Boundaries inside an identifier: lower->Upper, Upper->Upper+lower (HTTPServer), letter<->digit.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each else ever
    every few for from further had has have having he her here hers him his how however i if in
    into is it its itself just less let like ll made make makes many may me might more most much
    must my need needs new no nor not now of off on once one only or other our out over own
    per please rather re same see seems she should since so some still such than that the their
    them then there these they this those though through thus to too under until up upon us use
    used uses using ve very via was way we well were what when where whether which while who
    whom why will with within without would yet you your
    add added adds adding change changed changes changing fix fixed fixes fixing
    update updated updates updating remove removed removes removing improve improved
    make made get got instead now currently properly correctly correct
    feat chore perf docs doc refactor style ci build test tests wip
    """.split()
)


# What a task text carries that never names code: version-control bookkeeping lines
# (`--HG--`, `branch : trunk`, `git-svn-id: ...`, `[svn]`), commit hashes, and URLs.
_BOOKKEEPING_LINE = re.compile(r"(?im)^\s*(?:--HG--|branch\s*:\s*\S+|git-svn-id:.*|-{3,})\s*$")
_NOISE = re.compile(r"\[svn\]|\bhttps?://\S+|\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")


def clean_task(text: str) -> str:
    """`text` without the parts that never name code (see `_BOOKKEEPING_LINE` and `_NOISE`)."""
    return _NOISE.sub(" ", _BOOKKEEPING_LINE.sub("", text))


def split_identifier(name: str) -> list[str]:
    """Lower-case words of one identifier: `parseHTTPHeader_v2` -> parse, http, header, v, 2."""
    words: list[str] = []
    for part in name.split("_"):
        if part:
            words.extend(w.lower() for w in _CAMEL.findall(part))
    return words


def identifiers(text: str) -> Iterator[str]:
    """Every identifier-shaped token of `text`, as written."""
    return (m.group() for m in _IDENT.finditer(text))


@functools.lru_cache(maxsize=200_000)
def _terms_of(name: str) -> tuple[str, ...]:
    words = split_identifier(name)
    return (*words, "".join(words)) if len(words) > 1 else tuple(words)


class _JoinedTerms(dict[str, str]):
    """name -> its terms joined by spaces, computed on first use (lookups stay in C)."""

    def __missing__(self, name: str) -> str:
        if len(self) >= 500_000:
            self.clear()
        joined = self[name] = " ".join(_terms_of(name))
        return joined


_JOINED = _JoinedTerms()


def joined_terms(text: str) -> str:
    """`text_terms(text)` joined by spaces, computed once per distinct identifier (the fast
    path for indexing whole files)."""
    return " ".join(map(_JOINED.__getitem__, _IDENT.findall(text)))


def text_terms(text: str) -> list[str]:
    """Index terms of a document: split identifiers plus joined compounds, in order."""
    out: list[str] = []
    for name in _IDENT.findall(text):
        out.extend(_terms_of(name))
    return out


_CODE_MARKED = re.compile(r"`([^`\n]+)`|([A-Za-z_][A-Za-z0-9_]*)\(|\b([A-Za-z_]\w*\.[A-Za-z_][\w.]*)")


def code_marked(text: str) -> set[str]:
    """Identifiers the text writes as code: in backticks, called (`add()`), or dotted (`a.b`).
    These are never stop words: `add()` names a function even though "add" is a common verb."""
    marked: set[str] = set()
    for match in _CODE_MARKED.finditer(text):
        marked.update(identifiers(next(g for g in match.groups() if g)))
    return marked


def is_code_like(name: str, marked: Iterable[str] = ()) -> bool:
    """A name that reads as code, not as a word: written as code (`marked`), or with `_`, an inner
    capital or a digit."""
    return name in marked or "_" in name or any(c.isupper() for c in name[1:]) or any(c.isdigit() for c in name)


_NAME = r"`?([A-Za-z_][\w.]*)`?(?:\(\))?"
_USAGE = re.compile(
    r"\b(?:uses?|usages?|calls?|callers?|call\s+sites?|occurrences?|references?)\s+(?:to|of)\s+(?:the\s+)?" + _NAME
    + r"|\breplac(?:e|es|ed|ing)\s+(?:all\s+)?" + _NAME + r"\s+(?:with|by)\b"
    + r"|\binstead\s+of\s+(?:the\s+)?" + _NAME
    + r"|\brenam(?:e|es|ed|ing)\s+(?:the\s+)?" + _NAME + r"\s+(?:to|as|into)\b"
    + r"|\b(?:stop(?:ped)?\s+using|migrat(?:e|es|ed|ing)\s+(?:away\s+)?from|switch(?:es|ed|ing)?\s+(?:away\s+)?from)\s+"
    + _NAME,
    re.IGNORECASE,
)


def usage_targets(text: str) -> list[str]:
    """Names written as code whose uses the task is about: "replace uses of `url_decode`",
    "callers of Context.get_all()", "use X instead of `old_api`", "rename `parse_tag` to ..." (its
    uses change with it). Each is the last part of what was written, taken when that reads as code
    (dotted, marked or `is_code_like`); a plain word such as "termcolor" is not taken, nor an
    acronym ("calls to the API", "instead of JSON") unless written in backticks."""
    marked = code_marked(text)
    names: dict[str, None] = {}
    for match in _USAGE.finditer(text):
        written = next(g for g in match.groups() if g).strip(".")
        last = written.rsplit(".", 1)[-1]
        acronym = last.isalpha() and last.isupper() and f"`{written}`" not in text
        if last and not acronym and ("." in written or is_code_like(last, marked)):
            names.setdefault(last, None)
    return list(names)


def query_terms(text: str, extra_stopwords: Iterable[str] = ()) -> list[str]:
    """Distinct search terms of a task, stop words and one-letter words dropped, first seen first."""
    stop = (STOPWORDS | frozenset(extra_stopwords)) - {t for name in code_marked(text) for t in _terms_of(name)}
    seen: dict[str, None] = {}
    for name in identifiers(text):
        for term in _terms_of(name):
            if len(term) > 1 and term not in stop and not term.isdigit():
                seen.setdefault(term, None)
    return list(seen)
