"""The on-disk index of one repository: its files' chunks, their terms and their definitions.

One SQLite file per repository (under the cache directory), holding every (path, content)
pair seen in its recent snapshots, so a commit already indexed costs nothing and a working
tree re-reads only files whose size or modification time changed. Ranking uses SQLite's FTS5
with its built-in `bm25()` (through the standard library's `sqlite3`): an incremental on-disk
full-text index, with no extra dependency and no index code of our own. Documents are stored as
identifier-split terms (`server.context.terms`) in three columns — path, defined names, body —
so the ranking can weight a match in a path or a definition above one in the body; FTS5's
`porter` tokenizer folds `sorting`/`sorted` to `sort`.

The FTS5 tables are contentless (`content=''`): bm25 needs only the index and the column
sizes, so the terms are not stored a second time. Deleting from a contentless table needs the
values once inserted, so each file's terms are kept zlib-compressed (`doc_terms`), a fifth of
their size; read back only when the file leaves the index.

Reading is served from memory once loaded (which chunk belongs to which file, where each name
is defined, each snapshot's files), valid while no other connection writes: SQLite's
`data_version` says when one did. A working tree whose files' sizes and modification times
are unchanged is answered without a write.

Old snapshots are dropped beyond the most recent `KEEP_SNAPSHOTS`, and with them the files
only they used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import stat
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from server.context.analyse import Analysed, analyse_stream
from server.context.files import (
    MAX_FILE_BYTES,
    blob_id,
    commit_files,
    decode_text,
    read_blobs,
    worktree_listing,
)
from server.context.terms import split_identifier

__all__ = ["ChunkRow", "DocRow", "RepoIndex", "Snapshot", "index_path", "index_version"]

KEEP_SNAPSHOTS = 8
SCHEMA_VERSION = 2
# The modules whose code decides what a file's rows hold (its chunks, terms and secret flags).
_ANALYSIS_MODULES = ("analyse", "chunking", "chunk_python", "chunk_treesitter", "secrets", "terms", "files", "index")
_TOUCH_EVERY = 60.0  # seconds between updates of a snapshot's last use (a write)
_TEXT_CACHE = 256  # decoded files kept per index
_TABLES = ("docs", "chunks", "symbols", "chunk_fts", "file_fts", "doc_terms", "snaps", "snap_docs", "wt_stat")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, blob TEXT NOT NULL, n_lines INTEGER NOT NULL,
    chars INTEGER NOT NULL, binary INTEGER NOT NULL, UNIQUE(path, blob));
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, signature TEXT NOT NULL, defines TEXT NOT NULL,
    secret INTEGER NOT NULL, chars INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(path, names, body, tokenize='porter ascii', content='');
CREATE VIRTUAL TABLE IF NOT EXISTS file_fts USING fts5(path, names, body, tokenize='porter ascii', content='');
CREATE TABLE IF NOT EXISTS doc_terms(doc INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snaps(key TEXT PRIMARY KEY, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS snap_docs(snap TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(snap, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS snap_docs_doc ON snap_docs(doc);
CREATE TABLE IF NOT EXISTS wt_stat(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, blob TEXT) WITHOUT ROWID;
"""


@functools.cache
def index_version() -> int:
    """The stamp an index is written with: the schema and a digest of the analysis code. An index
    written by other code is rebuilt rather than served, so a secret shape recognised since is
    never sent from rows an older version flagged as clean (the index is a cache: nothing is lost)."""
    digest = hashlib.sha256()
    for name in _ANALYSIS_MODULES:
        try:
            digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
        except OSError:  # installed without sources: the schema version alone
            digest.update(name.encode())
    return SCHEMA_VERSION * 10_000_000 + int.from_bytes(digest.digest()[:4], "big") % 10_000_000


def index_path(cache_dir: Path, repo: Path) -> Path:
    """Where the index of `repo` lives under `cache_dir`."""
    digest = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:20]
    return cache_dir / "context" / f"{repo.name[:40]}-{digest}.sqlite"


@dataclass(frozen=True)
class DocRow:
    id: int
    path: str
    blob: str
    n_lines: int
    chars: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    doc: int
    start_line: int
    end_line: int
    kind: str
    name: str
    signature: str
    defines: tuple[str, ...]
    secret: bool
    chars: int


def _path_terms(path: str) -> str:
    parts = [w for piece in PurePosixPath(path).with_suffix("").parts for w in split_identifier(piece)]
    return " ".join(parts)


def _fts_query(terms: Iterable[str]) -> str:
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms if t)


# doc_terms: path terms, the file's names, then each chunk's names and body; terms are
# lower-case letters, digits and spaces, so these separators never occur inside them.
_FIELD, _PAIR = "\x00", "\x01"


def _pack_terms(path_terms: str, file_names: str, chunks: Sequence[tuple[str, str]]) -> bytes:
    text = _FIELD.join([path_terms, file_names, *(n + _PAIR + b for n, b in chunks)])
    return zlib.compress(text.encode(), 1)


def _unpack_terms(data: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    path_terms, file_names, *pairs = zlib.decompress(data).decode().split(_FIELD)
    chunks = [(n, b) for n, _, b in (p.partition(_PAIR) for p in pairs)]
    return path_terms, file_names, chunks


@dataclass
class _Meta:
    """Which chunk is in which file and where each name is defined, over the whole index."""

    doc_of: dict[int, int]  # chunk id -> doc id
    chunk_count: dict[int, int]  # doc id -> chunks (docs with none are absent: no FTS rows)
    symbols: dict[str, list[tuple[int, int]]]  # name -> (chunk id, doc id), chunk order
    version: int = field(default=0, compare=False)  # bumped when our own write changes the maps in place


@dataclass(frozen=True)
class Snapshot:
    """The indexed files of one commit (or of the working tree) and queries over them."""

    index: RepoIndex
    key: str
    commit: str | None
    docs: dict[int, DocRow]  # in path order
    _memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def rank_chunks(self, terms: Sequence[str], weights: tuple[float, float, float], limit: int) -> list[tuple[int, float]]:
        """(chunk id, score > 0) of the best-matching chunks, best first."""
        return self.index._rank("chunk_fts", self, terms, weights, limit)

    def rank_files(self, terms: Sequence[str], weights: tuple[float, float, float], limit: int) -> list[tuple[int, float]]:
        """(doc id, score > 0) of the best-matching files, best first."""
        return self.index._rank("file_fts", self, terms, weights, limit)

    def chunks_of(self, doc_ids: Iterable[int]) -> dict[int, list[ChunkRow]]:
        return self.index._chunks_of(list(doc_ids))

    def doc_of(self, chunk_id: int) -> int | None:
        """The file (doc id) a chunk of the index belongs to, from the map held in memory."""
        return self.index._meta().doc_of.get(chunk_id)

    def chunk(self, chunk_id: int) -> ChunkRow | None:
        doc = self.doc_of(chunk_id)
        if doc is None or doc not in self.docs:
            return None
        return next((r for r in self.index._chunks_of([doc])[doc] if r.id == chunk_id), None)

    def definitions(self, names: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """For each name, the (chunk id, doc id) pairs of this snapshot that define it."""
        symbols = self.index._meta().symbols
        out: dict[str, list[tuple[int, int]]] = {}
        for name in sorted(set(names)):
            places = [p for p in symbols.get(name, ()) if p[1] in self.docs]
            if places:
                out[name] = places
        return out

    def chunk_frequency(self, term: str) -> tuple[int, int]:
        """(chunks holding `term`, chunks in all) over the whole index: a term's rarity."""
        return self.index._row_count("chunk_fts", term), len(self.index._meta().doc_of)

    def text(self, doc_id: int) -> str:
        """The text of a file of this snapshot (from git for a commit, from disk for the tree)."""
        return self.index._text(self, doc_id)

    def total_chars(self) -> int:
        """Characters of every file of this snapshot."""
        found = self._memo.get("chars")
        if found is None:
            found = self._memo["chars"] = sum(d.chars for d in self.docs.values())
        assert isinstance(found, int)
        return found

    def counts(self) -> tuple[int, int]:
        """(chunks, files with chunks) of this snapshot: how much of the index is its own."""
        found = self._memo.get("counts")
        if found is None:
            count = self.index._meta().chunk_count
            per_doc = [count[d] for d in self.docs if d in count]
            found = self._memo["counts"] = (sum(per_doc), len(per_doc))
        assert isinstance(found, tuple)
        return found


class RepoIndex:
    """The index of one repository, stored at `db_path`. Not thread-safe: one caller at a time."""

    def __init__(self, repo: Path, db_path: Path, *, exclude: Sequence[str] = (),
                 max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.repo = repo
        self.db_path = db_path
        self.exclude = tuple(exclude)
        self.max_file_bytes = max_file_bytes
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(db_path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-32000")
        self._migrate()
        self._chunk_cache: dict[int, list[ChunkRow]] = {}
        self._texts: OrderedDict[int, str] = OrderedDict()
        self._meta_cache: _Meta | None = None
        self._row_counts: dict[tuple[str, str], int] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._touched: dict[str, float] = {}
        self._wt_stat: dict[str, tuple[int, int, str]] | None = None
        self._version = self._data_version()

    def _migrate(self) -> None:
        """Create the schema; an index written by another schema or analysis code (`index_version`)
        is emptied first (it is a cache: rebuilding it loses nothing)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version != index_version():
                for table in _TABLES:
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")
                self.db.execute(f"PRAGMA user_version = {index_version()}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    # -- what is held in memory -----------------------------------------------------------

    def _data_version(self) -> int:
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def _forget(self, *, keep_meta: bool = False) -> None:
        """Drop what was read from the database (the per-content caches stay). After our own
        write the chunk map is kept: `_add_doc` and `_collect_garbage` keep it up to date."""
        if not keep_meta:
            self._meta_cache = None
        self._snapshots.clear()
        self._row_counts.clear()

    def _sync(self) -> None:
        """Drop everything held in memory when another connection has written since."""
        version = self._data_version()
        if version != self._version:
            self._version = version
            self._forget()
            self._chunk_cache.clear()  # ids of deleted rows may have been reused
            self._texts.clear()
            self._wt_stat = None

    def _meta(self) -> _Meta:
        if self._meta_cache is None:
            doc_of: dict[int, int] = {}
            count: dict[int, int] = {}
            symbols: dict[str, list[tuple[int, int]]] = {}
            for chunk, doc, defines in self.db.execute("SELECT id, doc, defines FROM chunks ORDER BY id"):
                doc_of[chunk] = doc
                count[doc] = count.get(doc, 0) + 1
                if defines:
                    for name in set(defines.split()):
                        symbols.setdefault(name, []).append((chunk, doc))
            self._meta_cache = _Meta(doc_of, count, symbols)
        return self._meta_cache

    # -- building -------------------------------------------------------------------------

    def snapshot(self, commit: str | None) -> Snapshot:
        """Index `commit` (None: the working tree, uncommitted edits included) and return it."""
        self._sync()
        key = f"commit:{commit}" if commit else "worktree"
        if commit is not None:
            cached = self._snapshots.get(key)
            if cached is None and self.db.execute("SELECT 1 FROM snaps WHERE key = ?", (key,)).fetchone():
                cached = self._snapshots[key] = Snapshot(self, key, commit, self._snap_docs(key))
            if cached is not None:
                self._touch(key)
                return cached
            return self._build(key, commit, self._commit_pairs(commit), {}, [])
        pairs, updates, fresh = self._worktree_pairs()
        cached = self._snapshots.get(key)
        if cached is not None and not updates and cached._memo.get("pairs") == pairs:
            self._touch(key)
            return cached
        return self._build(key, None, pairs, fresh, updates)

    def _touch(self, key: str) -> None:
        now = time.time()
        if now - self._touched.get(key, 0.0) >= _TOUCH_EVERY:
            self.db.execute("UPDATE snaps SET used = ? WHERE key = ?", (now, key))
            self._touched[key] = now
            self._version = self._data_version()

    def _build(self, key: str, commit: str | None, files: list[tuple[str, str]], fresh: dict[tuple[str, str], bytes],
               stat_updates: list[tuple[str, int, int, str]]) -> Snapshot:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._sync()  # another connection may have written since we looked
            if stat_updates:
                self.db.executemany("INSERT OR REPLACE INTO wt_stat(path, size, mtime_ns, blob) VALUES (?, ?, ?, ?)",
                                    stat_updates)
            known = {(p, b): i for i, p, b in self.db.execute("SELECT id, path, blob FROM docs")}
            missing = sorted({(p, b) for p, b in files if (p, b) not in known})
            doc_ids = [known[(p, b)] for p, b in files if (p, b) in known]
            for (path, blob), found in zip(missing, analyse_stream(self._contents(commit, missing, fresh)), strict=True):
                doc_ids.append(self._add_doc(path, blob, found))
            old = {d for (d,) in self.db.execute("SELECT doc FROM snap_docs WHERE snap = ?", (key,))}
            new = set(doc_ids)
            if old != new:
                self.db.executemany("DELETE FROM snap_docs WHERE snap = ? AND doc = ?", [(key, d) for d in old - new])
                self.db.executemany("INSERT INTO snap_docs(snap, doc) VALUES (?, ?)", [(key, d) for d in new - old])
            now = time.time()
            self.db.execute("INSERT OR REPLACE INTO snaps(key, used) VALUES (?, ?)", (key, now))
            self._collect_garbage()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._wt_stat = None
            self._forget()
            raise
        self._touched[key] = now
        self._version = self._data_version()
        self._forget(keep_meta=True)
        snapshot = self._snapshots[key] = Snapshot(self, key, commit, self._snap_docs(key))
        if commit is None:
            snapshot._memo["pairs"] = files
        return snapshot

    def _commit_pairs(self, commit: str) -> list[tuple[str, str]]:
        return [(f.path, f.blob) for f in commit_files(self.repo, commit, self.exclude, self.max_file_bytes)]

    def _worktree_pairs(self) -> tuple[list[tuple[str, str]], list[tuple[str, int, int, str]], dict[tuple[str, str], bytes]]:
        """(path, blob) of every candidate file of the working tree; the wt_stat rows to write
        for files whose size or modification time changed; and those files' bytes."""
        if self._wt_stat is None:
            self._wt_stat = {p: (s, m, b) for p, s, m, b in self.db.execute("SELECT path, size, mtime_ns, blob FROM wt_stat")}
        stats = self._wt_stat
        pairs: list[tuple[str, str]] = []
        updates: list[tuple[str, int, int, str]] = []
        fresh: dict[tuple[str, str], bytes] = {}
        base = str(self.repo) + os.sep
        for path in worktree_listing(self.repo, self.exclude):
            full = base + path
            try:
                st = os.stat(full, follow_symlinks=False)
            except OSError:
                continue  # deleted but still in the index
            if not stat.S_ISREG(st.st_mode) or st.st_size > self.max_file_bytes:
                continue
            seen = stats.get(path)
            if seen is not None and seen[0] == st.st_size and seen[1] == st.st_mtime_ns:
                pairs.append((path, seen[2]))
                continue
            try:
                with open(full, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            blob = blob_id(data)
            fresh[(path, blob)] = data
            pairs.append((path, blob))
            updates.append((path, st.st_size, st.st_mtime_ns, blob))
        for path, size, mtime, blob in updates:
            stats[path] = (size, mtime, blob)  # written by the transaction that uses them
        return pairs, updates, fresh

    def _contents(self, commit: str | None, missing: list[tuple[str, str]],
                  fresh: dict[tuple[str, str], bytes]) -> list[tuple[str, bytes]]:
        if commit is not None:
            by_blob = read_blobs(self.repo, sorted({b for _, b in missing}))
            return [(path, by_blob.get(blob, b"")) for path, blob in missing]
        out: list[tuple[str, bytes]] = []
        for path, blob in missing:
            data = fresh.get((path, blob))
            if data is None:
                try:
                    data = (self.repo / path).read_bytes()
                except OSError:
                    data = b""
            out.append((path, data))
        return out

    def _add_doc(self, path: str, blob: str, found: Analysed) -> int:
        cur = self.db.execute(
            "INSERT INTO docs(path, blob, n_lines, chars, binary) VALUES (?, ?, ?, ?, ?)",
            (path, blob, found.n_lines, found.chars, int(found.binary)),
        )
        doc = int(cur.lastrowid or 0)
        if not found.chunks:
            return doc
        path_terms = _path_terms(path)
        rows = [(doc, c.start_line, c.end_line, c.kind, c.name, c.signature, " ".join(c.defines), int(secret), chars)
                for c, chars, secret, _, _ in found.chunks]
        first_id = None
        for row in rows:  # ids of one file's chunks are consecutive
            cur = self.db.execute(
                "INSERT INTO chunks(doc, start, end, kind, name, signature, defines, secret, chars)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            first_id = first_id if first_id is not None else int(cur.lastrowid or 0)
        assert first_id is not None
        ids = range(first_id, first_id + len(rows))
        self.db.executemany("INSERT INTO chunk_fts(rowid, path, names, body) VALUES (?, ?, ?, ?)",
                            [(i, path_terms, names, body) for i, (_, _, _, names, body) in zip(ids, found.chunks, strict=True)])
        names = " ".join(n for *_, n, _ in found.chunks)
        self.db.execute("INSERT INTO file_fts(rowid, path, names, body) VALUES (?, ?, ?, ?)",
                        (doc, path_terms, names, ""))
        self.db.execute("INSERT INTO doc_terms(doc, data) VALUES (?, ?)",
                        (doc, _pack_terms(path_terms, names, [(n, b) for *_, n, b in found.chunks])))
        meta = self._meta_cache
        if meta is not None:
            meta.version += 1
            meta.chunk_count[doc] = len(rows)
            for i, row in zip(ids, rows, strict=True):
                meta.doc_of[i] = doc
                for name in set(row[6].split()):
                    meta.symbols.setdefault(name, []).append((i, doc))
        return doc

    def _collect_garbage(self) -> None:
        stale = [k for (k,) in self.db.execute("SELECT key FROM snaps ORDER BY used DESC LIMIT -1 OFFSET ?",
                                               (KEEP_SNAPSHOTS,))]
        for key in stale:
            self.db.execute("DELETE FROM snap_docs WHERE snap = ?", (key,))
            self.db.execute("DELETE FROM snaps WHERE key = ?", (key,))
            self._touched.pop(key, None)
        orphans = [d for (d,) in self.db.execute(
            "SELECT id FROM docs WHERE NOT EXISTS (SELECT 1 FROM snap_docs s WHERE s.doc = docs.id)")]
        for doc in orphans:
            self._chunk_cache.pop(doc, None)
            self._texts.pop(doc, None)
            chunk_rows = self.db.execute("SELECT id, defines FROM chunks WHERE doc = ? ORDER BY id", (doc,)).fetchall()
            chunk_ids = [c for c, _ in chunk_rows]
            self._unmap(doc, chunk_rows)
            packed = self.db.execute("SELECT data FROM doc_terms WHERE doc = ?", (doc,)).fetchone()
            if packed is not None:
                path_terms, names, chunks = _unpack_terms(packed[0])
                # A contentless table forgets a row given exactly the values it was given.
                self.db.executemany(
                    "INSERT INTO chunk_fts(chunk_fts, rowid, path, names, body) VALUES ('delete', ?, ?, ?, ?)",
                    [(i, path_terms, n, b) for i, (n, b) in zip(chunk_ids, chunks, strict=True)])
                self.db.execute("INSERT INTO file_fts(file_fts, rowid, path, names, body) VALUES ('delete', ?, ?, ?, '')",
                                (doc, path_terms, names))
                self.db.execute("DELETE FROM doc_terms WHERE doc = ?", (doc,))
            self.db.execute("DELETE FROM chunks WHERE doc = ?", (doc,))
            self.db.execute("DELETE FROM docs WHERE id = ?", (doc,))

    def _unmap(self, doc: int, chunk_rows: list[tuple[int, str]]) -> None:
        """Take a deleted file's chunks out of the chunk map held in memory."""
        meta = self._meta_cache
        if meta is None:
            return
        meta.version += 1
        meta.chunk_count.pop(doc, None)
        for chunk, defines in chunk_rows:
            meta.doc_of.pop(chunk, None)
            for name in set(defines.split()):
                places = [p for p in meta.symbols.get(name, ()) if p[0] != chunk]
                if places:
                    meta.symbols[name] = places
                else:
                    meta.symbols.pop(name, None)

    # -- reading --------------------------------------------------------------------------

    def _snap_docs(self, key: str) -> dict[int, DocRow]:
        rows = self.db.execute(
            "SELECT d.id, d.path, d.blob, d.n_lines, d.chars FROM snap_docs s JOIN docs d ON d.id = s.doc"
            " WHERE s.snap = ? AND d.binary = 0 ORDER BY d.path", (key,))
        return {r[0]: DocRow(*r) for r in rows}

    def _rank(self, fts: str, snapshot: Snapshot, terms: Sequence[str], weights: tuple[float, float, float],
              limit: int) -> list[tuple[int, float]]:
        query = _fts_query(terms)
        if not query:
            return []
        meta = self._meta()
        own_chunks, own_files = snapshot.counts()
        docs = snapshot.docs
        if fts == "chunk_fts":
            rows, foreign = len(meta.doc_of), len(meta.doc_of) - own_chunks
            doc_of = meta.doc_of

            def mine(found: list[tuple[int, float]]) -> list[tuple[int, float]]:
                return [(r, s) for r, s in found if doc_of.get(r) in docs]
        else:
            rows, foreign = len(meta.chunk_count), len(meta.chunk_count) - own_files

            def mine(found: list[tuple[int, float]]) -> list[tuple[int, float]]:
                return [(r, s) for r, s in found if r in docs]
        # Rows of other snapshots' files are filtered here rather than joined in SQL (the join
        # costs more than the ranking); asking for as many more rows as there are such rows
        # keeps the best `limit` of this snapshot exact.
        best: list[tuple[int, float]] = []
        strong = [t for t in terms if t and self._row_count(fts, t) * 2 < rows]
        if strong and len(strong) < len([t for t in terms if t]):
            # bm25 gives a term found in half the rows or more an IDF of 1e-6: dropping such
            # terms changes no score by more than 1e-5 but spares scoring every row they match.
            best = mine(self._bm25(fts, weights, _fts_query(strong), limit + foreign))
        if len(best) < limit:  # too few rows match the rarer terms: rank by all of them
            best = mine(self._bm25(fts, weights, query, limit + foreign))
        return [(int(r), float(s)) for r, s in best[:limit] if s > 0]

    def _row_count(self, fts: str, term: str) -> int:
        """How many rows of `fts` hold `term` (memoised until the index changes)."""
        counts = self._row_counts
        key = (fts, term)
        found = counts.get(key)
        if found is None:
            try:
                found = int(self.db.execute(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?",
                                            (_fts_query([term]),)).fetchone()[0])
            except sqlite3.OperationalError:
                found = 0
            if len(counts) > 100_000:
                counts.clear()
            counts[key] = found
        return found

    def _bm25(self, fts: str, weights: tuple[float, float, float], query: str, limit: int) -> list[tuple[int, float]]:
        sql = f"SELECT rowid, -bm25({fts}, ?, ?, ?) AS score FROM {fts} WHERE {fts} MATCH ? ORDER BY score DESC LIMIT ?"
        try:
            return self.db.execute(sql, (*weights, query, limit)).fetchall()
        except sqlite3.OperationalError:
            return []  # a query FTS5 cannot parse ranks nothing rather than failing the task

    def _chunks_where(self, where: str, params: Sequence[object]) -> list[ChunkRow]:
        rows = self.db.execute(
            "SELECT id, doc, start, end, kind, name, signature, defines, secret, chars FROM chunks WHERE "
            + where + " ORDER BY doc, start", tuple(params))
        return [ChunkRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7].split()), bool(r[8]), r[9]) for r in rows]

    def _chunks_of(self, doc_ids: list[int]) -> dict[int, list[ChunkRow]]:
        # A doc's chunks never change (docs are per content), so they are kept once read.
        cache = self._chunk_cache
        missing = [d for d in doc_ids if d not in cache]
        for start in range(0, len(missing), 500):
            part = missing[start:start + 500]
            for d in part:
                cache[d] = []
            for row in self._chunks_where(f"doc IN ({','.join('?' * len(part))})", part):
                cache[row.doc].append(row)
        return {d: cache[d] for d in doc_ids}

    def _text(self, snapshot: Snapshot, doc_id: int) -> str:
        texts = self._texts
        found = texts.get(doc_id)
        if found is not None:
            texts.move_to_end(doc_id)
            return found
        doc = snapshot.docs[doc_id]
        if snapshot.commit is not None:
            data = read_blobs(self.repo, [doc.blob]).get(doc.blob, b"")
        else:
            data = (self.repo / doc.path).read_bytes()
        text = decode_text(data) or ""
        if snapshot.commit is not None or blob_id(data) == doc.blob:  # never keep a file edited since
            texts[doc_id] = text
            if len(texts) > _TEXT_CACHE:
                texts.popitem(last=False)
        return text
