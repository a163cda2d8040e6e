"""The on-disk index of one repository: its files' chunks, their terms and their definitions.

One SQLite file per repository (under the cache directory), holding every (path, content)
pair seen in its recent snapshots, so a commit already indexed costs nothing and a working
tree re-reads only files whose size or modification time changed. Ranking uses SQLite's FTS5
with its built-in `bm25()` (through the standard library's `sqlite3`): an incremental on-disk
full-text index, with no extra dependency and no index code of our own. Documents are stored as
identifier-split terms (`server.context.terms`) in three columns — path, defined names, body —
so the ranking can weight a match in a path or a definition above one in the body; FTS5's
`porter` tokenizer folds `sorting`/`sorted` to `sort`.

Old snapshots are dropped beyond the most recent `KEEP_SNAPSHOTS`, and with them the files
only they used.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from server.context.analyse import Analysed, analyse_many
from server.context.files import (
    MAX_FILE_BYTES,
    blob_id,
    commit_files,
    decode_text,
    read_blobs,
    worktree_listing,
)
from server.context.terms import split_identifier

__all__ = ["ChunkRow", "DocRow", "RepoIndex", "Snapshot", "index_path"]

KEEP_SNAPSHOTS = 8
_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, blob TEXT NOT NULL, n_lines INTEGER NOT NULL,
    chars INTEGER NOT NULL, binary INTEGER NOT NULL, UNIQUE(path, blob));
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, signature TEXT NOT NULL, defines TEXT NOT NULL,
    secret INTEGER NOT NULL, chars INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE TABLE IF NOT EXISTS symbols(name TEXT NOT NULL, chunk INTEGER NOT NULL, doc INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name);
CREATE INDEX IF NOT EXISTS symbols_doc ON symbols(doc);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(path, names, body, tokenize='porter ascii');
CREATE VIRTUAL TABLE IF NOT EXISTS file_fts USING fts5(path, names, body, tokenize='porter ascii');
CREATE TABLE IF NOT EXISTS snaps(key TEXT PRIMARY KEY, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS snap_docs(snap TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(snap, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS snap_docs_doc ON snap_docs(doc);
CREATE TABLE IF NOT EXISTS wt_stat(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, blob TEXT) WITHOUT ROWID;
"""


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


@dataclass(frozen=True)
class Snapshot:
    """The indexed files of one commit (or of the working tree) and queries over them."""

    index: RepoIndex
    key: str
    commit: str | None
    docs: dict[int, DocRow]

    def rank_chunks(self, terms: Sequence[str], weights: tuple[float, float, float], limit: int) -> list[tuple[int, float]]:
        """(chunk id, score > 0) of the best-matching chunks, best first."""
        return self.index._rank("chunk_fts", "chunks", self.key, terms, weights, limit)

    def rank_files(self, terms: Sequence[str], weights: tuple[float, float, float], limit: int) -> list[tuple[int, float]]:
        """(doc id, score > 0) of the best-matching files, best first."""
        return self.index._rank("file_fts", "docs", self.key, terms, weights, limit)

    def chunks_of(self, doc_ids: Iterable[int]) -> dict[int, list[ChunkRow]]:
        return self.index._chunks_of(list(doc_ids))

    def chunk(self, chunk_id: int) -> ChunkRow | None:
        rows = self.index._chunks_where("id = ?", (chunk_id,))
        return rows[0] if rows else None

    def definitions(self, names: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """For each name, the (chunk id, doc id) pairs of this snapshot that define it."""
        return self.index._definitions(self.key, list(names))

    def text(self, doc_id: int) -> str:
        """The text of a file of this snapshot (from git for a commit, from disk for the tree)."""
        doc = self.docs[doc_id]
        if self.commit is not None:
            data = read_blobs(self.index.repo, [doc.blob]).get(doc.blob, b"")
        else:
            data = (self.index.repo / doc.path).read_bytes()
        return decode_text(data) or ""


class RepoIndex:
    """The index of one repository, stored at `db_path`."""

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
        self.db.executescript(_SCHEMA)
        self._chunk_cache: dict[int, list[ChunkRow]] = {}

    def close(self) -> None:
        self.db.close()

    # -- building -------------------------------------------------------------------------

    def snapshot(self, commit: str | None) -> Snapshot:
        """Index `commit` (None: the working tree, uncommitted edits included) and return it."""
        key = f"commit:{commit}" if commit else "worktree"
        if commit is not None and self.db.execute("SELECT 1 FROM snaps WHERE key = ?", (key,)).fetchone():
            self.db.execute("UPDATE snaps SET used = ? WHERE key = ?", (time.time(), key))
            return Snapshot(self, key, commit, self._snap_docs(key))
        files = self._commit_pairs(commit) if commit else self._worktree_pairs()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            known = {(p, b): i for i, p, b in self.db.execute("SELECT id, path, blob FROM docs")}
            missing = [(p, b) for p, b in files if (p, b) not in known]
            contents = self._contents(commit, missing)
            analysed = analyse_many([(p, contents.get((p, b)) or b"") for p, b in missing])
            doc_ids = [known[(p, b)] for p, b in files if (p, b) in known]
            for (path, blob), found in zip(missing, analysed, strict=True):
                doc_ids.append(self._add_doc(path, blob, found))
            old = {d for (d,) in self.db.execute("SELECT doc FROM snap_docs WHERE snap = ?", (key,))}
            new = set(doc_ids)
            if old != new:
                self.db.executemany("DELETE FROM snap_docs WHERE snap = ? AND doc = ?", [(key, d) for d in old - new])
                self.db.executemany("INSERT INTO snap_docs(snap, doc) VALUES (?, ?)", [(key, d) for d in new - old])
            self.db.execute("INSERT OR REPLACE INTO snaps(key, used) VALUES (?, ?)", (key, time.time()))
            self._collect_garbage()
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return Snapshot(self, key, commit, self._snap_docs(key))

    def _commit_pairs(self, commit: str) -> list[tuple[str, str]]:
        return [(f.path, f.blob) for f in commit_files(self.repo, commit, self.exclude, self.max_file_bytes)]

    def _worktree_pairs(self) -> list[tuple[str, str]]:
        stats = {p: (s, m, b) for p, s, m, b in self.db.execute("SELECT path, size, mtime_ns, blob FROM wt_stat")}
        pairs: list[tuple[str, str]] = []
        updates: list[tuple[str, int, int, str]] = []
        self._fresh: dict[tuple[str, str], bytes] = {}
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
            self._fresh[(path, blob)] = data
            pairs.append((path, blob))
            updates.append((path, st.st_size, st.st_mtime_ns, blob))
        if updates:
            self.db.executemany("INSERT OR REPLACE INTO wt_stat(path, size, mtime_ns, blob) VALUES (?, ?, ?, ?)", updates)
        return pairs

    def _contents(self, commit: str | None, missing: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        if commit is None:
            fresh = getattr(self, "_fresh", {})
            out: dict[tuple[str, str], bytes] = {}
            for path, blob in missing:
                data = fresh.get((path, blob))
                if data is None:
                    try:
                        data = (self.repo / path).read_bytes()
                    except OSError:
                        data = b""
                out[(path, blob)] = data
            return out
        by_blob = read_blobs(self.repo, sorted({b for _, b in missing}))
        return {(p, b): by_blob.get(b, b"") for p, b in missing}

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
        self.db.executemany("INSERT INTO symbols(name, chunk, doc) VALUES (?, ?, ?)",
                            [(n, i, doc) for i, (c, *_) in zip(ids, found.chunks, strict=True) for n in set(c.defines)])
        names = " ".join(n for *_, n, _ in found.chunks)
        self.db.execute("INSERT INTO file_fts(rowid, path, names, body) VALUES (?, ?, ?, ?)",
                        (doc, path_terms, names, ""))
        return doc

    def _collect_garbage(self) -> None:
        stale = [k for (k,) in self.db.execute("SELECT key FROM snaps ORDER BY used DESC LIMIT -1 OFFSET ?",
                                               (KEEP_SNAPSHOTS,))]
        for key in stale:
            self.db.execute("DELETE FROM snap_docs WHERE snap = ?", (key,))
            self.db.execute("DELETE FROM snaps WHERE key = ?", (key,))
        orphans = [d for (d,) in self.db.execute(
            "SELECT id FROM docs WHERE NOT EXISTS (SELECT 1 FROM snap_docs s WHERE s.doc = docs.id)")]
        for doc in orphans:
            self._chunk_cache.pop(doc, None)
            chunk_ids = [(c,) for (c,) in self.db.execute("SELECT id FROM chunks WHERE doc = ?", (doc,))]
            self.db.executemany("DELETE FROM chunk_fts WHERE rowid = ?", chunk_ids)
            self.db.execute("DELETE FROM file_fts WHERE rowid = ?", (doc,))
            self.db.execute("DELETE FROM symbols WHERE doc = ?", (doc,))
            self.db.execute("DELETE FROM chunks WHERE doc = ?", (doc,))
            self.db.execute("DELETE FROM docs WHERE id = ?", (doc,))

    # -- reading --------------------------------------------------------------------------

    def _snap_docs(self, key: str) -> dict[int, DocRow]:
        rows = self.db.execute(
            "SELECT d.id, d.path, d.blob, d.n_lines, d.chars FROM snap_docs s JOIN docs d ON d.id = s.doc"
            " WHERE s.snap = ? AND d.binary = 0", (key,))
        return {r[0]: DocRow(*r) for r in rows}

    def _rank(self, fts: str, table: str, key: str, terms: Sequence[str], weights: tuple[float, float, float],
              limit: int) -> list[tuple[int, float]]:
        query = _fts_query(terms)
        if not query:
            return []
        doc_col = "doc" if table == "chunks" else "id"
        sql = (f"SELECT f.rowid, -bm25({fts}, ?, ?, ?) AS score FROM {fts} f"
               f" JOIN {table} t ON t.id = f.rowid JOIN snap_docs s ON s.doc = t.{doc_col} AND s.snap = ?"
               f" WHERE {fts} MATCH ? ORDER BY score DESC LIMIT ?")
        try:
            rows = self.db.execute(sql, (*weights, key, query, limit)).fetchall()
        except sqlite3.OperationalError:
            return []  # a query FTS5 cannot parse ranks nothing rather than failing the task
        return [(int(r), float(s)) for r, s in rows if s > 0]

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

    def _definitions(self, key: str, names: list[str]) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        for start in range(0, len(names), 500):
            part = names[start:start + 500]
            rows = self.db.execute(
                f"SELECT y.name, y.chunk, y.doc FROM symbols y JOIN snap_docs s ON s.doc = y.doc AND s.snap = ?"
                f" WHERE y.name IN ({','.join('?' * len(part))})", (key, *part))
            for name, chunk, doc in rows:
                out.setdefault(name, []).append((chunk, doc))
        return out
