"""npm patch releases as context cases: the registry's package document, tarballs, their changelog entry.

A case is a pair of consecutive final releases (a, b) of a package where b is a's next patch
release: the workspace is a's tarball, the task is the one entry b's changelog gives for b, and
the gold is the lines of a's JavaScript / TypeScript source files (not tests, not build output)
that b changed (version-string hunks left out). See README.md, "npm patch releases".

The package document is the registry's abbreviated form (`Accept:
application/vnd.npm.install-v1+json`, the one npm itself installs from: every version's `dist`
with its tarball URL, `integrity` and `shasum`, without the readmes). Tarballs are cached under
~/.cache/pwm-bench/npm (override: $PWM_BENCH_CACHE) and checked against the registry's sha512
integrity (its sha1 `shasum` when a version has no integrity).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import debsrc  # a sibling script: its folder is on sys.path where this runs
import pypisrc

REGISTRY = "https://registry.npmjs.org"
CACHE = Path(os.environ.get("PWM_BENCH_CACHE") or Path.home() / ".cache" / "pwm-bench") / "npm"
MAX_TARBALL_BYTES = 10_000_000
MAX_SOURCE_BYTES = 200_000  # a changed source file larger than this counts as generated
ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
_FINAL = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")  # no prerelease tag, no build metadata

# The changelog at the top of the package, in this order of names (then by file name).
_CHANGELOG = re.compile(r"^(changelog|changes|history|news|release[-_ ]?notes)(\.(md|txt|rst))?$", re.I)
_CHANGELOG_ORDER = ("changelog", "changes", "history", "news", "release")

# Source files and the paths that are not the package's own code.
SOURCE = re.compile(r"\.(js|mjs|cjs|jsx|ts|mts|cts|tsx)$")
NOT_SOURCE = re.compile(r"\.d\.[mc]?ts$|\.min\.[mc]?js$")
TEST_PATH = re.compile(r"(^|/)(test|tests|testing|testsuite|__tests__|spec|__mocks__|__fixtures__|fixtures)/"
                       r"|\.(test|spec)\.[^/]+$")
SKIP_PATH = re.compile(
    r"(^|/)(dist|build|lib-cov|coverage|umd|esm|cjs|examples?|docs?|bench[^/]*|scripts|node_modules|\.[^/]+)/"
    r"|(^|/)[^/]*\.(config|conf)\.[mc]?[jt]s$|(^|/)(gulpfile|gruntfile)\.[^/]+$|(^|/)\.[^/]*rc\.[mc]?[jt]s$",
    re.I)


class TooLarge(ValueError):
    """A tarball over MAX_TARBALL_BYTES (the registry does not give its size before the download)."""


@dataclass(frozen=True)
class Tarball:
    package: str
    version: str
    filename: str
    url: str
    integrity: str  # "sha512-<base64>"; "" when the registry gives only a sha1
    sha1: str

    def record(self) -> dict[str, str]:
        """The case's `tarball` object: enough to fetch and check it again."""
        out = {"filename": self.filename, "url": self.url}
        if self.integrity:
            out["integrity"] = self.integrity
        else:
            out["sha1"] = self.sha1
        return out


def document_url(name: str) -> str:
    """The package document's URL; a scoped name's slash is encoded (`@scope%2fname`)."""
    return f"{REGISTRY}/{name.replace('/', '%2f')}"


def fetch_document(client: Any, name: str) -> dict[str, Any] | None:
    """The abbreviated package document, or None when the registry has no such package."""
    resp = client.get(document_url(name), headers={"Accept": ABBREVIATED}, timeout=60)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    doc: dict[str, Any] = resp.json()
    return doc


def _sha512_of(integrity: str) -> str:
    """The sha512 entry of a Subresource Integrity string ("" when it has none)."""
    return next((h for h in integrity.split() if h.startswith("sha512-")), "")


def tarballs(name: str, doc: dict[str, Any]) -> list[Tarball]:
    """Each final release (`major.minor.patch`, no prerelease tag) with a tarball, oldest first."""
    out: list[tuple[tuple[int, ...], Tarball]] = []
    for version, meta in (doc.get("versions") or {}).items():
        m = _FINAL.match(version)
        dist = (meta or {}).get("dist") or {}
        url = str(dist.get("tarball") or "")
        if m is None or not url:
            continue
        integrity = _sha512_of(str(dist.get("integrity") or ""))
        sha1 = str(dist.get("shasum") or "")
        if not integrity and not sha1:
            continue
        out.append((tuple(int(x) for x in m.groups()),
                    Tarball(name, version, url.rsplit("/", 1)[-1], url, integrity, sha1)))
    out.sort(key=lambda p: p[0])
    return [t for _, t in out]


def patch_pairs(releases: list[Tarball]) -> list[tuple[Tarball, Tarball]]:
    """Consecutive releases (a, b) where b is a's next patch release (same major.minor, patch + 1), newest first."""
    pairs = []
    for a, b in zip(releases, releases[1:], strict=False):
        va = [int(x) for x in a.version.split(".")]
        vb = [int(x) for x in b.version.split(".")]
        if va[:2] == vb[:2] and vb[2] == va[2] + 1:
            pairs.append((a, b))
    return pairs[::-1]


def cached(tarball: Tarball) -> Path:
    return CACHE / "tarballs" / tarball.package.replace("/", "%2f") / tarball.filename


def _check(data: bytes, tarball: Tarball) -> bool:
    if tarball.integrity:
        return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode() == tarball.integrity
    return hashlib.sha1(data).hexdigest() == tarball.sha1


def download(client: Any, tarball: Tarball) -> Path:
    """The tarball from the cache, downloading it once (hash checked before it is kept). A tarball
    over MAX_TARBALL_BYTES raises TooLarge (remembered in the cache)."""
    path = cached(tarball)
    large = path.with_name(path.name + ".toolarge")
    if large.exists():
        raise TooLarge(f"{tarball.filename}: over {MAX_TARBALL_BYTES} bytes (cached)")
    if not path.is_file():
        chunks: list[bytes] = []
        size = 0
        with client.stream("GET", tarball.url, timeout=120, follow_redirects=True) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_TARBALL_BYTES:
                    large.parent.mkdir(parents=True, exist_ok=True)
                    large.touch()
                    raise TooLarge(f"{tarball.filename}: over {MAX_TARBALL_BYTES} bytes")
                chunks.append(chunk)
        data = b"".join(chunks)
        if not _check(data, tarball):
            raise ValueError(f"{tarball.filename}: hash differs from the registry's")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    if not _check(path.read_bytes(), tarball):
        path.unlink()
        raise ValueError(f"{tarball.filename}: cached file's hash differs from the registry's")
    return path


def extract(path: Path, dest: Path) -> None:
    """A package tarball's regular files into `dest`, each entry's first folder (`package/`)
    stripped as npm does. An absolute path or a `..` refuses the whole tarball (ValueError);
    links, devices, entries outside any folder and anything under a `.git` folder are skipped."""
    dest.mkdir(parents=True)
    with tarfile.open(path, "r:*") as tar:
        for m in tar.getmembers():
            name = m.name.replace("\\", "/")
            parts = name.removeprefix("./").split("/")
            if name.startswith("/") or ".." in parts:
                raise ValueError(f"{path.name}: unsafe entry {m.name!r}")
            if not m.isfile() or len(parts) < 2:
                continue
            rel = [p for p in parts[1:] if p not in ("", ".")]
            if not rel or ".git" in rel:
                continue
            debsrc.write_member(tar, m, dest.joinpath(*rel))


# -- the task: b's changelog entry ------------------------------------------------------------------

def changelog_files(tree: Path) -> list[Path]:
    """Changelog candidates at the top of the package: CHANGELOG*, CHANGES*, HISTORY*, NEWS*,
    RELEASE*NOTES* in that order (case-insensitive; .md, .txt, .rst or no suffix)."""
    found = [p for p in tree.iterdir() if p.is_file() and _CHANGELOG.match(p.name)]
    rank = {k: i for i, k in enumerate(_CHANGELOG_ORDER)}
    return sorted(found, key=lambda p: (next(v for k, v in rank.items() if p.name.lower().startswith(k)), p.name))


def _unlink(text: str) -> str:
    """Markdown links to their text, images and html anchors dropped."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    return re.sub(r"</?a\b[^>]*>", "", text, flags=re.I)


def changelog_entries(text: str, version: str) -> list[str] | None:
    """The entries of `version`'s section (the PyPI set's reading, `pypisrc.changelog_entries`),
    after markdown links are read as their text (so `## [1.2.3](compare-url) (date)` is a
    heading of 1.2.3). None when no heading names it."""
    return pypisrc.changelog_entries(_unlink(text), version)


_HASH = r"`?\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b`?"
_REF = r"(\b[\w.-]+/[\w.-]+)?#\d+\b|\b(gh|pr|issue)[- ]?#?\d+\b"


def clean_entry(text: str) -> str:
    """Changelog markup to words: links to their text; commit hashes, PR / issue numbers and
    author credits removed; `**scope:**` to `scope:` (the PyPI set's `clean_entry` for markdown,
    except that an `@name` stays unless it is a credit: scoped packages and decorators are words)."""
    text = _unlink(text)
    text = re.sub(r"\bthanks\s+@[\w-]+!?\s*(-\s+)?", "", text, flags=re.I)  # changesets: "Thanks @x! - "
    text = re.sub(r"\b(by|thanks to|contributed by|patch by)\s+@[\w-]+.*$", "", text, flags=re.I)
    text = re.sub(r"[(\[]\s*@[\w-]+\s*[)\]]", "", text)
    text = re.sub(r"(\s[-\u2013\u2014]\s*|\s)@[\w-]+\s*\.?\s*$", "", text)  # a trailing "- @x"
    text = re.sub(_HASH + r":?", "", text)
    text = re.sub(r"(,\s*)?\b(fix(es|ed)?|close[sd]?|resolve[sd]?|refs?|see)\s*:?\s*(" + _REF + r")(\s*,\s*(" + _REF + r"))*",
                  "", text, flags=re.I)
    text = re.sub(r"(?<![\w&])(" + _REF + r")", "", text, flags=re.I)
    text = re.sub(r"\b(in|see)\s+https?://\S+", "", text, flags=re.I)
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<!\w)__([^_]+)__(?!\w)", r"\1", text)
    for _ in range(2):
        text = re.sub(r"(?<![\w\]`])(\(\s*([,;]\s*)*\)|\[\s*([,;]\s*)*\])", "", text)  # not a call's ()
    text = " ".join(text.split()).strip(" .;,")
    return re.sub(r"^[-:\u2013\u2014\s]+", "", text) + "."


# -- the gold: source files that differ ---------------------------------------------------------------

def is_source(path: str) -> bool:
    """A JavaScript / TypeScript source file of the package's own code (not a test, not build
    output, docs, examples, benchmarks, scripts or build configuration)."""
    return bool(SOURCE.search(path)) and not NOT_SOURCE.search(path) and not TEST_PATH.search(path) \
        and not SKIP_PATH.search(path)


def _stem(path: str) -> str:
    return SOURCE.sub("", path)


def output_copies(paths: set[str], all_paths: set[str]) -> set[str]:
    """Those of `paths` that are build output of a file under `src/`: outside `src/`, and their
    path after the first folder (the whole path at the top), extension dropped, is a source file's
    under `src/` in `all_paths` (`lib/x.js` beside `src/x.ts`)."""
    sources = {_stem(p[4:]) for p in all_paths if p.startswith("src/") and SOURCE.search(p)
               and not NOT_SOURCE.search(p)}
    if not sources:
        return set()
    out = set()
    for p in paths:
        if p.startswith("src/"):
            continue
        rest = p.split("/", 1)[1] if "/" in p else p
        if _stem(rest) in sources:
            out.add(p)
    return out


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def changed_sources(a: Path, b: Path) -> tuple[dict[str, str], list[str]]:
    """Source files {path: "M" | "A" | "D"} that differ between trees a and b (build-output copies
    of `src/` files left out), and those over MAX_SOURCE_BYTES on either side."""
    fa, fb = _files(a), _files(b)
    digest = {}
    for side, files in (("a", fa), ("b", fb)):
        for rel, p in files.items():
            if is_source(rel):
                digest[(side, rel)] = hashlib.sha1(p.read_bytes()).hexdigest()
    paths = {rel for _, rel in digest}
    changed = {p for p in paths if digest.get(("a", p)) != digest.get(("b", p))}
    changed -= output_copies(changed, set(fa) | set(fb))
    kinds = {p: ("A" if p not in fa else "D" if p not in fb else "M") for p in sorted(changed)}
    large = sorted(p for p in changed if max((fa[p].stat().st_size if p in fa else 0),
                                             (fb[p].stat().st_size if p in fb else 0)) > MAX_SOURCE_BYTES)
    return kinds, large


def n_source(tree: Path) -> tuple[int, int]:
    """(files with a source extension, not .d.ts or .min.js, anywhere in the tree; all files)."""
    files = _files(tree)
    return sum(1 for p in files if SOURCE.search(p) and not NOT_SOURCE.search(p)), len(files)


def gold_lines(a: Path, b: Path, path: str, versions: tuple[str, str]) -> list[int]:
    """a-side lines of path's `-U0` hunks, counted as the PyPI set counts them (`pypisrc.gold_lines`)."""
    return pypisrc.gold_lines(a, b, path, versions)


def build_repo(tarball_path: Path, dest: Path) -> None:
    """`dest` becomes a git repository with one commit of the tarball's files."""
    extract(tarball_path, dest)
    debsrc.git(dest, "init", "-q", "-b", "main")
    debsrc.git(dest, "add", "-A", "-f", ".")
    debsrc.git(dest, "commit", "-q", "--no-verify", "-m", "parent tree", "--date", "2000-01-01T00:00:00Z")
