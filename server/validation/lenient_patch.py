"""Apply a model's unified diff that `git apply` refuses, by finding each hunk's text in the file.

Models write diffs whose hunk headers are wrong (line numbers, line counts, or `@@ ... @@` with
none), whose context is uneven (git then anchors a hunk with no trailing context to the file's
end), or whose context lines lost their indentation or their leading space. `git apply` refuses
all of these, and a cheap model's correct change is then thrown away and escalated. Here a hunk
is located by its text, as aider's unified-diff editing does: the lines it keeps and removes must
appear in the file as one block, at or after the previous hunk's place, exactly (where the block
stands more than once, the place nearest the line its header states, as git chooses; with no
line stated, the only place), else ignoring whitespace at the ends of lines or at both ends,
else without some of the context lines at the hunk's edges (a line the model misremembered next
to its change; fewest dropped first). A loose match counts only where it is the only one. A kept
line keeps the file's own text; only removed and added lines change. The new texts are computed
for every file before any is written, so a diff that fails anywhere writes nothing.

Paths are confined to the tree: absolute paths, `..` and anything under `.git` are refused.
Renames, copies and binary patches are left to git.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["LenientPatchError", "apply_leniently", "locate", "stands_loosely"]

_HUNK = re.compile(r"^@@(?:\s*-(\d+))?.*@@")


class LenientPatchError(ValueError):
    """The diff cannot be applied even by its hunks' text (the message says which hunk)."""


@dataclass
class _Hunk:
    start: int | None  # the old side's first line as the header states it (None: no number)
    ops: list[tuple[str, str]] = field(default_factory=list)  # (" " | "-" | "+", line text)


@dataclass
class _FilePatch:
    old: str | None  # None: a new file
    new: str | None  # None: a deleted file
    hunks: list[_Hunk] = field(default_factory=list)


def apply_leniently(root: Path, diff: str, strip: int) -> list[str]:
    """Apply `diff` to the files under `root` (`strip` leading path parts, as `git apply -p`);
    the paths written, in order.

    Raises:
        LenientPatchError: a path outside the tree, a hunk whose text is not in its file, or
            nothing to apply.
    """
    patches = _parse(diff, strip)
    if not patches:
        raise LenientPatchError("no file changes found in the diff")
    writes: dict[Path, str | None] = {}  # path -> new text (None: delete)
    for patch in patches:
        target = _confined(root, patch.new if patch.new is not None else patch.old)
        if patch.old is None:  # a new file: the hunks' added lines
            if target.exists() or target in writes:
                raise LenientPatchError(f"{patch.new}: the diff creates it, but it exists")
            writes[target] = "".join(text + "\n" for hunk in patch.hunks for kind, text in hunk.ops if kind != "-")
            continue
        source = _confined(root, patch.old)
        if source != target:
            raise LenientPatchError(f"{patch.old} -> {patch.new}: renames are left to git")
        current = writes.get(source) if source in writes else _read(source, patch.old)
        if current is None:
            raise LenientPatchError(f"{patch.old}: changed after the diff deleted it")
        if patch.new is None:
            writes[source] = None
            continue
        writes[source] = _apply_hunks(current, patch.hunks, patch.old)
    for path, text in writes.items():
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
    return [str(p.relative_to(root)) for p in writes]


def _parse(diff: str, strip: int) -> list[_FilePatch]:
    patches: list[_FilePatch] = []
    lines = diff.split("\n")
    i = 0
    current: _FilePatch | None = None
    hunk: _Hunk | None = None
    while i < len(lines):
        line = lines[i]
        if line.startswith(("rename ", "copy ", "GIT binary patch")):
            raise LenientPatchError("binary patches, renames and copies are left to git")
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            current = _FilePatch(_path(line[4:], strip), _path(lines[i + 1][4:], strip))
            patches.append(current)
            hunk = None
            i += 2
            continue
        header = _HUNK.match(line) if current is not None else None
        if current is not None and header is not None:
            hunk = _Hunk(int(header.group(1)) if header.group(1) else None)
            current.hunks.append(hunk)
        elif current is not None and hunk is not None:
            if line.startswith(("+", "-", " ")):
                hunk.ops.append((line[0], line[1:].rstrip("\r")))
            elif line.strip() == "":
                hunk.ops.append((" ", ""))  # a blank context line that lost its leading space
            elif not line.startswith("\\"):  # "\ No newline at end of file" is skipped
                hunk = None  # `diff --git`, `index ...` or prose: the hunk is over
        i += 1
    for patch in patches:
        for h in patch.hunks:
            while h.ops and h.ops[-1] == (" ", ""):  # the blank line a reply ends with is not context
                h.ops.pop()
        patch.hunks = [h for h in patch.hunks if any(kind != " " for kind, _ in h.ops)]
    return [p for p in patches if p.hunks or p.new is None]


def _path(header: str, strip: int) -> str | None:
    name = header.split("\t")[0].strip()
    if name == "/dev/null":
        return None
    parts = PurePosixPath(name).parts
    return str(PurePosixPath(*parts[strip:])) if len(parts) > strip else name


def _confined(root: Path, relative: str | None) -> Path:
    if not relative:
        raise LenientPatchError("a file header names no path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and pure.parts[0] == ".git"):
        raise LenientPatchError(f"{relative}: a path outside the repository")
    path = root / pure
    resolved_root = root.resolve()
    if resolved_root not in path.resolve().parents:
        raise LenientPatchError(f"{relative}: a path outside the repository")
    return path


def _read(path: Path, name: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise LenientPatchError(f"{name}: no such file in the repository") from None
    except UnicodeDecodeError:
        raise LenientPatchError(f"{name}: not a UTF-8 text file") from None


def _apply_hunks(text: str, hunks: list[_Hunk], name: str) -> str:
    lines = text.split("\n")  # a final "" stands for the newline at the end of the file
    cursor = 0
    shift = 0  # lines the hunks before this one added (or, below 0, removed)
    for number, hunk in enumerate(hunks, 1):
        ops = hunk.ops
        stated = hunk.start - 1 + shift if hunk.start else None
        at = _find(lines, [t for k, t in ops if k != "+"], cursor, stated)
        if at is None:  # context at the hunk's edges that the model got wrong or invented
            found = _find_trimmed(lines, ops, cursor)
            if found is None:
                raise LenientPatchError(f"{name}: hunk {number}'s lines are not in the file")
            ops, at = found
        replaced: list[str] = []
        position = at
        for kind, line in ops:
            if kind == " ":
                replaced.append(lines[position])  # the file's own text for a kept line
                position += 1
            elif kind == "-":
                position += 1
            else:
                replaced.append(line)
        lines[at:position] = replaced
        cursor = at + len(replaced)
        shift += len(replaced) - (position - at)
    return "\n".join(lines)


def locate(lines: list[str], block: list[str]) -> int | None:
    """Where `block` stands in `lines`, as a hunk with no line number is found: in one place
    only, exactly, else with whitespace at line ends ignored, else at both ends."""
    return _find(lines, block, 0, None)


def stands_loosely(lines: list[str], block: list[str]) -> bool:
    """Whether `block` stands anywhere in `lines`, whitespace at both ends of lines ignored."""
    return bool(_places(lines, block, 0, str.strip))


def _find(lines: list[str], block: list[str], start: int, stated: int | None) -> int | None:
    """Where `block` starts in `lines` at or after `start`: exactly (of several places, the one
    nearest the line the hunk's header states, as git does; with no stated line, the only one),
    else with line ends' whitespace ignored, else with all leading and trailing whitespace
    ignored (then the only place: a loose match found twice is no match)."""
    if not block:
        return None  # a pure insertion with no context has no place of its own
    for strict, key in ((True, _same), (False, str.rstrip), (False, str.strip)):
        found = _places(lines, block, start, key)
        if len(found) == 1:
            return found[0]
        if found and strict and stated is not None:
            return min(found, key=lambda at: (abs(at - stated), at))
    return None


def _same(line: str) -> str:
    return line


def _places(lines: list[str], block: list[str], start: int, key: Callable[[str], str]) -> list[int]:
    """Every place at or after `start` where `block` stands in `lines`, compared through `key`."""
    wanted = [key(b) for b in block]
    return [at for at in range(start, len(lines) - len(block) + 1)
            if all(key(lines[at + k]) == wanted[k] for k in range(len(block)))]


def _find_trimmed(lines: list[str], ops: list[tuple[str, str]], start: int) -> tuple[list[tuple[str, str]], int] | None:
    """The hunk without some of the context lines at its edges (fewest dropped first), and where
    what is left stands in the file. What is left must still hold a removed line or two lines of
    context, and stand in one place only: dropped context is context not checked."""
    lead = next((i for i, (kind, _) in enumerate(ops) if kind != " "), len(ops))
    trail = next((i for i, (kind, _) in enumerate(reversed(ops)) if kind != " "), len(ops))
    for dropped in range(1, lead + trail + 1):
        for front in range(max(0, dropped - trail), min(lead, dropped) + 1):
            kept = ops[front:len(ops) - (dropped - front)]
            block = [t for k, t in kept if k != "+"]
            if not (any(k == "-" for k, _ in kept) or len(block) >= 2):
                continue
            at = _find_unique(lines, block, start)
            if at is not None:
                return kept, at
    return None


def _find_unique(lines: list[str], block: list[str], start: int) -> int | None:
    """The one place `block` stands at or after `start`, line ends' whitespace ignored."""
    found = _places(lines, block, start, str.rstrip)
    return found[0] if len(found) == 1 else None
