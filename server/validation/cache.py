"""Check results cached by a fingerprint of everything they depend on.

A key covers the project's files (path, size, mtime and a content hash), the tool's identity
(its executable's path, size and mtime, which change on upgrade), the check's own arguments and
the child environment. An unchanged project therefore returns the earlier results (`cached`)
instead of running its checks again. Content hashes are memoised per (path, size, mtime, inode),
so a repeat run re-reads only files that changed.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path

from server.validation.model import CheckResult

__all__ = ["ResultCache", "environment_digest", "tool_identity"]

_CACHEABLE = ("passed", "failed", "skipped")


def _digest_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tool_identity(paths: Iterable[str]) -> str:
    parts = []
    for name in paths:
        try:
            st = os.stat(name)
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:missing")
    return "|".join(parts)


def environment_digest(env: Mapping[str, str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(env):
        h.update(f"{name}={env[name]}\0".encode())
    return h.hexdigest()


class ResultCache:
    """A bounded, thread-safe LRU of check results plus the memo of file content hashes."""

    def __init__(self, max_entries: int = 512, max_memo: int = 200_000) -> None:
        self._results: OrderedDict[str, CheckResult] = OrderedDict()
        self._memo: dict[str, tuple[int, int, int, str]] = {}
        self._max_entries = max_entries
        self._max_memo = max_memo
        self._lock = threading.Lock()

    def fingerprint(self, root: Path, files: Iterable[Path]) -> str:
        """Blocking: a digest of every file's relative path, size, mtime and content."""
        h = hashlib.blake2b(digest_size=20)
        for path in sorted(files):
            try:
                st = path.stat()
            except OSError:
                continue
            key = str(path)
            with self._lock:
                memo = self._memo.get(key)
            if memo and memo[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
                content = memo[3]
            else:
                try:
                    content = _digest_file(path)
                except OSError:
                    continue
                with self._lock:
                    if len(self._memo) >= self._max_memo:
                        self._memo.clear()
                    self._memo[key] = (st.st_size, st.st_mtime_ns, st.st_ino, content)
            rel = path.relative_to(root).as_posix() if root in path.parents else str(path)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{content}\n".encode())
        return h.hexdigest()

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.blake2b("\0".join(parts).encode(), digest_size=20).hexdigest()

    def get(self, key: str) -> CheckResult | None:
        with self._lock:
            hit = self._results.get(key)
            if hit is None:
                return None
            self._results.move_to_end(key)
        result = copy.deepcopy(hit)
        result.cached = True
        return result

    def put(self, key: str, result: CheckResult) -> None:
        """Remember a result; time-outs and internal errors are never cached."""
        if result.status not in _CACHEABLE:
            return
        with self._lock:
            self._results[key] = copy.deepcopy(result)
            self._results.move_to_end(key)
            while len(self._results) > self._max_entries:
                self._results.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._memo.clear()
