"""Defined names a task spells out in plain words: "zone creation and pool moves" -> `create_zone`,
`pool_move_zone`; "the openstack data stored in the workflow execution context" ->
`add_openstack_data_to_context`.

A name's content words (its identifier-split words, stop words left out) are matched against the
task's words loosely (plural or a shared stem: `creation` ~ `create`, `moves` ~ `move`); a name
scores when at least two of its content words and 60% of them are in the task, by the rarity of
the words matched (among the index's names) times the share matched. BM25 over the names column
rewards a chunk for each task word its names hold, never for a name the task covers whole.

The word -> names map is built once per index and extended with the names each re-index adds.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Iterable

from server.context.index import RepoIndex, Snapshot
from server.context.terms import STOPWORDS, split_identifier

__all__ = ["spelled_names"]

_KEY = 5  # words are bucketed by their first letters; a match shares at least this many


class _Names:
    """word key -> names holding a word with that key; name -> its content words; how many
    names hold each word. Names are only ever added: one no longer defined finds no definition."""

    def __init__(self) -> None:
        self.by_key: dict[str, set[str]] = {}  # a word's first letters -> the words
        self.by_word: dict[str, list[str]] = {}  # word -> the names holding it
        self.words: dict[str, tuple[str, ...]] = {}
        self.seen: set[str] = set()

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            self.seen.add(name)
            words = _content_words(name)
            if len(words) < 2:
                continue
            self.words[name] = words
            for w in words:
                self.by_word.setdefault(w, []).append(name)
                self.by_key.setdefault(w[:_KEY], set()).add(w)

    def idf(self, word: str) -> float:
        return math.log(1 + len(self.words) / max(1, len(self.by_word.get(word, ()))))


_CACHE: weakref.WeakKeyDictionary[RepoIndex, tuple[object, int, _Names]] = weakref.WeakKeyDictionary()


def _content_words(name: str) -> tuple[str, ...]:
    # snake_case without digits or capitals (most names) splits at "_" alone: no regex needed
    words = name.split("_") if name.islower() and name.replace("_", "").isalpha() else split_identifier(name)
    return tuple(dict.fromkeys(_norm(w) for w in words if len(w) > 1 and not w.isdigit() and w not in STOPWORDS))


def _norm(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _alike(a: str, b: str) -> bool:
    """Same word up to a plural or a suffix: the shared prefix is most of the shorter word."""
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= _KEY and n >= 0.8 * min(len(a), len(b))


def _names(snapshot: Snapshot) -> _Names:
    meta = snapshot.index._meta()
    found = _CACHE.get(snapshot.index)
    if found is not None and found[0] is meta and found[1] == meta.version:
        return found[2]
    names = found[2] if found is not None else _Names()
    names.add(meta.symbols.keys() - names.seen)
    _CACHE[snapshot.index] = (meta, meta.version, names)
    return names


def spelled_names(snapshot: Snapshot, terms: Iterable[str], min_share: float = 0.6) -> dict[str, float]:
    """{defined name: score > 0} for the names whose content words the task's `terms` spell out."""
    index = _names(snapshot)
    matched: set[str] = set()  # the names' words the task holds
    for t in {_norm(t) for t in terms if len(t) > 1 and t not in STOPWORDS}:
        matched.update(w for w in index.by_key.get(t[:_KEY], ()) if _alike(w, t))
    counts: Counter[str] = Counter()
    for w in matched:
        counts.update(index.by_word[w])
    out: dict[str, float] = {}
    for name, n in counts.items():
        if n >= 2:
            words = index.words[name]
            if n >= min_share * len(words):
                out[name] = sum(index.idf(w) for w in words if w in matched) * n / len(words)
    return out
