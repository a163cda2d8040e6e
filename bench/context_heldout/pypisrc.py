"""PyPI patch releases as context cases: sdists, their changelog entry, the lines between them.

A case is a pair of consecutive patch releases (a, b) of a package: the workspace is a's sdist,
the task is the one entry b's changelog gives for b, and the gold is the lines of a's non-test
`.py` files that b changed (version-string hunks left out). See README.md, "PyPI patch releases".
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import debsrc
from bench_context import _TEST_PATH  # the dev set's test-path rule, shared

CACHE = Path(os.environ.get("PWM_BENCH_CACHE") or Path.home() / ".cache" / "pwm-bench") / "pypi"
MAX_SDIST_BYTES = 10_000_000
_CHANGELOG = re.compile(r"^(changes|changelog|history|news|release[-_ ]?notes)(\.(rst|md|txt|markdown))?$", re.I)
_UNDERLINE = re.compile(r"^([=\-~^*+#`'\".])\1{2,}\s*$")
_VERSION_TOKEN = re.compile(r"(?<![\w.])v?\d+\.\d+(\.\d+)*(?![\w.]|\.\d)")
_BULLET = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(\S.*)$")
# Lines of the parent and the release that are about the version number itself.
_VERSIONISH = re.compile(r"version|__version__|VERSION|release|date", re.I)
_SKIP_DIRS = re.compile(r"(^|/)(docs?|examples?|benchmarks?|bench)/|(^|/)setup\.py$|(^|/)noxfile\.py$|(^|/)tasks\.py$")


@dataclass(frozen=True)
class Sdist:
    version: str
    filename: str
    url: str
    sha256: str
    size: int


def sdists(meta: dict[str, Any], index_url: str) -> list[Sdist]:
    """Each final, not yanked release's `.tar.gz` sdist (at most MAX_SDIST_BYTES), oldest first
    (file URLs resolved against `index_url`: a mirror may give them relative)."""
    from urllib.parse import urljoin

    from packaging.version import InvalidVersion, Version

    out: list[tuple[Version, Sdist]] = []
    for version, files in (meta.get("releases") or {}).items():
        try:
            v = Version(version)
        except InvalidVersion:
            continue
        if v.is_prerelease or v.is_devrelease or v.is_postrelease or v.local:
            continue
        for f in files:
            if (f.get("packagetype") == "sdist" and str(f.get("filename", "")).endswith(".tar.gz")
                    and not f.get("yanked") and 0 < int(f.get("size") or 0) <= MAX_SDIST_BYTES):
                out.append((v, Sdist(version, f["filename"], urljoin(index_url, f["url"]), f["digests"]["sha256"],
                                       int(f["size"]))))
                break
    out.sort(key=lambda p: p[0])
    return [s for _, s in out]


def patch_pairs(releases: list[Sdist]) -> list[tuple[Sdist, Sdist]]:
    """Consecutive releases (a, b) where b is a's next patch release (same major.minor, micro + 1), newest first."""
    from packaging.version import Version

    pairs = []
    for a, b in zip(releases, releases[1:], strict=False):
        va, vb = Version(a.version), Version(b.version)
        if va.release[:2] == vb.release[:2] and len(vb.release) >= 3 and vb.micro == va.micro + 1:
            pairs.append((a, b))
    return pairs[::-1]


def download(client: Any, sdist: Sdist) -> Path:
    path = CACHE / "sdist" / sdist.filename
    if not path.is_file():
        resp = client.get(sdist.url, timeout=120, follow_redirects=True)
        resp.raise_for_status()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(resp.content)
        tmp.replace(path)
    if debsrc.sha256_of(path) != sdist.sha256:
        path.unlink()
        raise ValueError(f"{sdist.filename}: sha256 differs from PyPI's")
    return path


def extract(path: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    debsrc._extract(path, dest)


def changelog_files(tree: Path) -> list[Path]:
    """Changelog candidates: top-level first, then docs/ and doc/ (one level), by name."""
    out: list[Path] = []
    for folder in (tree, tree / "docs", tree / "doc"):
        if folder.is_dir():
            out += sorted(p for p in folder.iterdir() if p.is_file() and _CHANGELOG.match(p.name))
    return out


def _is_heading(lines: list[str], i: int, version: str | None) -> bool:
    """Line i is a heading naming `version` (any version when None)."""
    line = lines[i].strip()
    if not line or len(line) > 100:
        return False
    found = [m.group(0).lstrip("v") for m in _VERSION_TOKEN.finditer(line)]
    if not found or (version is not None and version not in found):
        return False
    if version is None and _BULLET.match(lines[i]):
        return False
    underlined = i + 1 < len(lines) and bool(_UNDERLINE.match(lines[i + 1].strip()))
    bare = re.sub(r"^(#+|\*\*|\[|version|release|v)\s*", "", line, flags=re.I)
    return underlined or line.startswith("#") or bare.lstrip("v").startswith(found[0])


def changelog_entries(text: str, version: str) -> list[str] | None:
    """The entries (bullets, continuation lines joined) of `version`'s section, or None when no
    heading names it. A section ends at the next heading that names any version."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next((i for i in range(len(lines)) if _is_heading(lines, i, version)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _is_heading(lines, i, None)), len(lines))
    entries: list[str] = []
    indent = -1
    for raw in lines[start + 1:end]:
        bullet = _BULLET.match(raw)
        if bullet and (indent < 0 or len(bullet.group(1)) <= indent):
            indent = len(bullet.group(1))
            entries.append(bullet.group(3).strip())
        elif entries and raw.strip() and (raw[:1].isspace() or bullet):
            entries[-1] += " " + raw.strip()
        elif entries and not raw.strip():
            continue
        elif entries and raw.strip() and not _UNDERLINE.match(raw.strip()):
            # Prose after the list: the next bullet at any indent starts an entry of its own.
            indent = -2 if indent >= 0 else indent
    return entries


def clean_entry(text: str) -> str:
    """Changelog markup to words: rst roles and links, markdown links, PR/issue/author credits."""
    text = re.sub(r":[\w:.-]+:`~?([^`<]*?)\s*(<[^>]*>)?`", r"\1", text)  # :func:`name` -> name
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`__?", r"\1", text)  # `text <url>`_
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [text](url)
    text = re.sub(r"\[#?\d+\]", "", text)
    text = re.sub(r"\b(by|thanks to|contributed by|patch by)\s+@[\w-]+.*$", "", text, flags=re.I)
    text = re.sub(r"@[\w-]+", "", text)
    text = re.sub(r"\b(in|see)\s+https?://\S+", "", text, flags=re.I)
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"\b(gh|pr|issue|bpo)[- ]?#?\d+\b", "", text, flags=re.I)
    text = re.sub(r"\(\s*[,;]?\s*\)", "", text)
    return " ".join(text.split()).strip(" .;,") + "."


def _hunks(diff: str) -> list[tuple[int, int, list[str]]]:
    """(parent start, parent count, changed lines) per hunk of a `-U0` diff."""
    out: list[tuple[int, int, list[str]]] = []
    for part in re.split(r"^(?=@@ )", diff, flags=re.M)[1:]:
        head = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", part)
        if head is None:
            continue
        body = [ln[1:] for ln in part.split("\n")[1:] if ln[:1] in "+-"]
        out.append((int(head.group(1)), 1 if head.group(2) is None else int(head.group(2)), body))
    return out


def changed_py(a: Path, b: Path) -> tuple[dict[str, str], list[str]]:
    """Non-test, non-docs `.py` files: {path: "M" | "A" | "D"} between trees a and b, and all changed paths."""
    def files(root: Path) -> dict[str, str]:
        out = {}
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                rel = p.relative_to(root).as_posix()
                if ".egg-info/" in rel or rel.startswith("PKG-INFO"):
                    continue
                out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
        return out

    fa, fb = files(a), files(b)
    changed = sorted(p for p in fa.keys() | fb.keys() if fa.get(p) != fb.get(p))
    py = {p: ("A" if p not in fa else "D" if p not in fb else "M") for p in changed
          if p.endswith(".py") and not _TEST_PATH.search(p) and not _SKIP_DIRS.search(p)}
    return py, changed


def gold_lines(a: Path, b: Path, path: str, versions: tuple[str, str]) -> list[int]:
    """a-side lines of path's `-U0` hunks against b, as the dev README counts them; hunks whose
    every changed line is about the version number are left out."""
    proc = subprocess.run(["git", "diff", "--no-index", "-U0", "--no-color", str(a / path), str(b / path)],
                          capture_output=True, check=False)
    text = proc.stdout.decode("utf-8", "replace")
    n = debsrc.lines_count((a / path).read_bytes())
    out: set[int] = set()
    for start, count, body in _hunks(text):
        if body and all(not ln.strip() or _VERSIONISH.search(ln) or any(v in ln for v in versions) for ln in body):
            continue
        lines = [start, start + 1] if count == 0 else list(range(start, start + count))
        out.update(x for x in lines if 1 <= x <= n)
    return sorted(out)
