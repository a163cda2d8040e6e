"""Debian source packages as evaluation material: the archive's `Sources` index, cached
downloads checked against its sha256, a patch's DEP-3 description, and a case's parent tree
(orig tarballs + the patches before it in `series`, one git commit) with its gold lines.

Shared by `gather.py` (which picks the cases) and `run.py` (which rebuilds them from the cache).
Standard library and httpx only; every git call is an argument list, never a shell.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MIRROR = "http://deb.debian.org/debian"
# Tried in this order; a package is taken from the first suite whose debian tarball the mirror
# serves (this mirror serves only part of the pool; see README.md).
SUITES = ("bookworm", "trixie", "sid")
CACHE = Path(os.environ.get("PWM_BENCH_CACHE") or Path.home() / ".cache" / "pwm-bench") / "debian"
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]


@dataclass
class SourcePackage:
    name: str
    version: str
    directory: str
    fields: dict[str, str]
    suite: str = ""
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (sha256, size)

    def debian_tarball(self) -> str | None:
        return next((n for n in self.files if re.search(r"\.debian\.tar\.[a-z0-9]+$", n)), None)

    def orig_tarballs(self) -> list[str]:
        """The main orig tarball first, then its components (`.orig-<component>.tar.*`)."""
        names = [n for n in self.files if re.search(r"\.orig(-[A-Za-z0-9-]+)?\.tar\.[a-z0-9]+$", n)]
        return sorted(names, key=lambda n: (".orig." not in n, n))


def parse_sources(path: Path, suite: str = "") -> list[SourcePackage]:
    """Every paragraph of a `Sources.xz` index."""
    out: list[SourcePackage] = []
    with lzma.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in para.split("\n"):
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" not in fields:
            continue
        pkg = SourcePackage(fields["Package"], fields.get("Version", ""), fields.get("Directory", ""), fields, suite)
        for row in fields.get("Checksums-Sha256", "").split("\n"):
            parts = row.split()
            if len(parts) == 3:
                pkg.files[parts[2]] = (parts[0], int(parts[1]))
        out.append(pkg)
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached(pkg: SourcePackage, name: str) -> Path:
    return CACHE / "pool" / pkg.name / name


def fetch(client: object, pkg: SourcePackage, name: str) -> Path:
    """The file from the cache, downloading it once (sha256 from `Sources` checked before it is
    kept). A file the mirror does not serve raises FileNotFoundError, remembered in the cache."""
    import httpx

    assert isinstance(client, httpx.Client)
    dest = cached(pkg, name)
    sha, size = pkg.files[name]
    if dest.is_file() and dest.stat().st_size == size:
        return dest
    missing = dest.with_name(dest.name + ".404")
    if missing.exists():
        raise FileNotFoundError(f"{name}: not on the mirror (cached 404)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    resp = client.get(f"{MIRROR}/{pkg.directory}/{name}")
    if resp.status_code == 404:
        missing.touch()
        raise FileNotFoundError(f"{name}: not on the mirror")
    resp.raise_for_status()
    if hashlib.sha256(resp.content).hexdigest() != sha:
        raise ValueError(f"sha256 mismatch for {name}")
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(resp.content)
    tmp.replace(dest)
    return dest


def served(client: object, pkg: SourcePackage, name: str) -> bool:
    """Whether the mirror serves the file (a HEAD request; cached either way)."""
    import httpx

    assert isinstance(client, httpx.Client)
    dest = cached(pkg, name)
    missing = dest.with_name(dest.name + ".404")
    if dest.is_file():
        return True
    if missing.exists():
        return False
    resp = client.head(f"{MIRROR}/{pkg.directory}/{name}")
    if resp.status_code == 404:
        dest.parent.mkdir(parents=True, exist_ok=True)
        missing.touch()
        return False
    resp.raise_for_status()
    return True


# -- the debian/ tarball: series and patches --------------------------------------------------------

def read_debian(path: Path) -> dict[str, bytes]:
    """`debian/...` member name -> bytes, for the patches folder and upstream metadata only."""
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:*") as tar:
        for m in tar.getmembers():
            name = m.name.removeprefix("./")
            if m.isfile() and (name.startswith("debian/patches/") or name == "debian/upstream/metadata"):
                f = tar.extractfile(m)
                if f is not None:
                    out[name] = f.read()
    return out


def series(debian: dict[str, bytes]) -> list[tuple[str, int]]:
    """(patch path under debian/patches, strip level) in application order."""
    raw = debian.get("debian/patches/series")
    if raw is None:
        return []
    out: list[tuple[str, int]] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        line = line.split(" #", 1)[0].strip()  # quilt: a comment starts a line or follows a blank
        if line.startswith("#"):
            continue
        if not line:
            continue
        parts = line.split()
        strip = 1
        for opt in parts[1:]:
            if re.fullmatch(r"-p\d", opt):
                strip = int(opt[2:])
        out.append((parts[0], strip))
    return out


@dataclass
class PatchFile:
    old: str | None  # None: /dev/null
    new: str | None


def patch_files(text: str, strip: int) -> list[PatchFile]:
    """The files a unified diff touches, from its ---/+++ headers (paths stripped `strip` levels)."""

    def norm(p: str) -> str | None:
        p = p.split("\t")[0].strip()
        if p == "/dev/null":
            return None
        parts = p.split("/")
        return "/".join(parts[strip:]) if len(parts) > strip else p

    out: list[PatchFile] = []
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line.startswith("--- ") and lines[i + 1].startswith("+++ "):
            out.append(PatchFile(norm(line[4:]), norm(lines[i + 1][4:])))
        elif line.startswith("rename from ") or line.startswith("copy from "):
            out.append(PatchFile("(rename)", None))
    return out


_HEADER_END = re.compile(r"^(--- |diff --git |Index: |={5,}|diff -)", re.M)


def description(text: str) -> str | None:
    """A patch's own words: DEP-3 `Description:`/`Subject:` (continuations joined, ` .` a blank
    line), or a git format-patch's subject and body (up to its `---`)."""
    head = text[: m.start()] if (m := _HEADER_END.search(text)) else text
    lines = head.split("\n")
    if re.match(r"From [0-9a-f]{40} ", lines[0]):
        subject: list[str] = []
        body: list[str] = []
        i = 1
        while i < len(lines) and lines[i].strip():
            if lines[i].startswith("Subject:"):
                subject.append(lines[i][len("Subject:"):].strip())
                while i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                    i += 1
                    subject.append(lines[i].strip())
            i += 1
        for line in lines[i + 1:]:
            if line.rstrip() == "---":
                break
            body.append(line.rstrip())
        title = re.sub(r"^\[PATCH[^\]]*\]\s*", "", " ".join(subject))
        return (title + "\n\n" + "\n".join(body)).strip() or None
    for key in ("Description", "Subject"):
        for i, line in enumerate(lines):
            if line.lower().startswith(key.lower() + ":"):
                got = [line[len(key) + 1:].strip()]
                for cont in lines[i + 1:]:
                    if cont[:1] not in (" ", "\t"):
                        break
                    got.append("" if cont.strip() == "." else cont[1:].rstrip())
                title = re.sub(r"^\[PATCH[^\]]*\]\s*", "", got[0])
                return "\n".join([title, *got[1:]]).strip() or None
    return None


# -- the parent tree and the gold lines ---------------------------------------------------------------

def git(cwd: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=cwd, input=data, check=True,
                          capture_output=True).stdout.decode("utf-8", "replace")


def _extract(tar_path: Path, dest: Path) -> None:
    """Regular files of a tarball into `dest`, its single top folder (if any) stripped; links,
    devices and anything escaping `dest` skipped."""
    with tarfile.open(tar_path, "r:*") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        names = [m.name.removeprefix("./") for m in members]
        tops = {n.split("/", 1)[0] for n in names}
        strip = len(tops) == 1 and all("/" in n for n in names)
        for m, name in zip(members, names, strict=True):
            rel = name.split("/", 1)[1] if strip else name
            parts = rel.split("/")
            if not rel or rel.startswith("/") or ".." in parts or ".git" in parts:
                continue
            write_member(tar, m, dest / rel)


def write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """A regular file of `tar` written at `target` (its folders made), executable if it was."""
    f = tar.extractfile(member)
    if f is None:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        shutil.copyfileobj(f, out)
    os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)


def build_parent(origs: list[tuple[str, Path]], debian: dict[str, bytes], order: list[tuple[str, int]],
                 upto: int, dest: Path) -> None:
    """`dest` becomes a git repository with one commit: the orig tarballs (components in their
    folders) with patches `order[:upto]` applied in order. Raises CalledProcessError when one of
    them does not apply."""
    dest.mkdir(parents=True)
    for name, path in origs:
        comp = re.search(r"\.orig-([A-Za-z0-9-]+)\.tar\.", name)
        sub = dest / comp.group(1) if comp else dest
        sub.mkdir(parents=True, exist_ok=True)
        _extract(path, sub)
    git(dest, "init", "-q", "-b", "main")
    for patch, strip in order[:upto]:
        git(dest, "apply", f"-p{strip}", "--whitespace=nowarn", "-", data=debian[f"debian/patches/{patch}"])
    git(dest, "add", "-A", "-f", ".")
    git(dest, "commit", "-q", "--no-verify", "-m", "parent tree", "--date", "2000-01-01T00:00:00Z")


def tree_of(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD^{tree}").strip()


def lines_count(text: bytes) -> int:
    """Lines as git counts them (split at \\n; a last line without one counts)."""
    parts = text.split(b"\n")
    return len(parts) - 1 + (1 if parts[-1] else 0)


def apply_and_diff(repo: Path, patch: bytes, strip: int) -> tuple[dict[str, str], dict[str, list[int]]]:
    """Apply the patch to the committed parent in `repo` (index and tree); return git's
    name-status per path and, per modified path, the parent-side lines of each `-U0` hunk (a pure
    insertion after line s gives s and s+1, clipped to the file)."""
    git(repo, "apply", "--index", f"-p{strip}", "--whitespace=nowarn", "-", data=patch)
    status: dict[str, str] = {}
    raw = git(repo, "diff", "--cached", "--no-renames", "--name-status", "-z").split("\0")
    for kind, path in zip(raw[0::2], raw[1::2], strict=False):
        if path:
            status[path] = kind
    lines: dict[str, list[int]] = {}
    for path, kind in status.items():
        if kind != "M":
            continue
        n = lines_count(subprocess.run(["git", "show", f"HEAD:{path}"], cwd=repo, check=True,
                                       capture_output=True).stdout)
        got: set[int] = set()
        for m in re.finditer(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", git(repo, "diff", "--cached", "-U0",
                                                                           "--no-renames", "--", path), re.M):
            s, c = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
            span = range(s, s + c) if c else range(s, s + 2)
            got.update(x for x in span if 1 <= x <= n)
        lines[path] = sorted(got)
    return status, lines

