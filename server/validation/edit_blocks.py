"""A model's answer given as SEARCH/REPLACE edit blocks, turned into a unified diff.

Aider's edit format (its "diff" and "diff-fenced" formats, the ones aider uses by default for most
models), which many models have been trained to write: the file's path on its own line, then (in a
code fence or not)

    <<<<<<< SEARCH
    the lines as they stand in the file
    =======
    the lines to put in their place
    >>>>>>> REPLACE

The path is read from the nearest of the three non-blank lines above the block that names one
(a fence's info string, a `###` heading or `**bold**` path and the first line inside a fence
count); a block that names none takes the previous block's file. Blocks apply in order, each to
the file as the blocks before it left it, and each SEARCH text must stand in one place only: found
exactly, else with whitespace at line ends ignored, else at both ends
(`server.validation.lenient_patch.locate`). Where it was found only with its indentation changed
by the same prefix on every line (a method's block written without the class's indentation), the
REPLACE lines get the same change. An empty SEARCH creates a new file (under a folder the
repository has) or appends to an existing one, as aider does; SEARCH lines that are all blank are
looked for like any others in an existing file (aider appends then, which put a change at the end
of a file when the blank lines it meant stood in many places).

A block that cannot be placed makes the whole answer unusable (no diff; `failed` says which block
and why, for the retry's feedback): a fix that would go in only in part is not a fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from server.validation.lenient_patch import locate, stands_loosely
from server.validation.procs import child_env
from server.validation.whole_files import file_diff, named_path
from server.validation.worktree import RepoFiles, repo_files, run_git

__all__ = ["EditBlockError", "EditBlocks", "edit_blocks_diff", "has_edit_blocks", "replace_block"]

_HEAD = re.compile(r"^\s*<{5,9} SEARCH>?\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_TAIL = re.compile(r"^\s*>{5,9} REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_NAMES_ABOVE = 3
_BARE_PATH = re.compile(r"^[\w.\-]+(?:/[\w.\-]+)*\.\w+$")  # a path alone on its line


@dataclass(frozen=True)
class EditBlocks:
    """What an answer of edit blocks makes: the diff (None: nothing to take) and, when a block
    could not be placed, why (any entry makes the diff None)."""

    diff: str | None
    failed: tuple[str, ...] = ()


@dataclass
class _Block:
    above: list[str]  # the non-blank lines above it, nearest first (where its path is named)
    search: list[str]
    replace: list[str]


def has_edit_blocks(text: str) -> bool:
    """Whether `text` holds at least one SEARCH/REPLACE block."""
    lines = text.split("\n")
    return any(_HEAD.match(line) for line in lines) and any(_TAIL.match(line) for line in lines)


async def edit_blocks_diff(repo: Path, base: str, text: str, env: Mapping[str, str]) -> EditBlocks:
    """The unified diff that the edit blocks in `text` make to the files at `base` of `repo`
    (a git work tree)."""
    blocks, problem = _parse(text)
    if problem:
        return EditBlocks(None, (problem,))
    if not blocks:
        return EditBlocks(None)
    env = child_env(env)
    files = await repo_files(repo, base, env)
    if files is None:
        return EditBlocks(None, ("the repository's files could not be listed",))
    tracked = files.tracked
    originals: dict[str, str | None] = {}  # path -> text at base (None: a new file)
    current: dict[str, str] = {}
    failed: list[str] = []
    path: str | None = None
    for number, block in enumerate(blocks, 1):
        named = _block_path(block, files)
        if isinstance(named, _Failure):
            failed.append(f"block {number}: {named.reason}")
            continue
        if named is None and not block.search:
            failed.append(f"block {number}: a block with an empty SEARCH part (a new file, or text added at a "
                          "file's end) must name its file on the line above it")
            continue
        path = named or path
        if path is None:
            failed.append(f"block {number} names no file of the repository (put the file's path, from the "
                          "repository root, alone on the line above it; a new file goes in an existing folder)")
            continue
        if path not in originals:
            if path in tracked:
                shown = await run_git(["show", f"{base}:{path}"], repo, env)
                if shown.exit_code != 0:
                    return EditBlocks(None, (f"{path}: could not be read at {base}",))
                originals[path] = shown.stdout
            else:
                originals[path] = None
            current[path] = originals[path] or ""
        updated = _apply(current[path], block, exists=originals[path] is not None or bool(current[path]))
        if isinstance(updated, _Failure):
            failed.append(f"{path}, block {number}: {updated.reason}")
        else:
            current[path] = updated
    if failed:
        return EditBlocks(None, tuple(failed))
    pieces = [file_diff(p, originals[p], current[p]) for p in originals if current[p] != originals[p]]
    return EditBlocks("".join(pieces) or None)


@dataclass(frozen=True)
class _Failure:
    reason: str


class EditBlockError(ValueError):
    """The text to replace cannot be placed (the message says why)."""


def replace_block(text: str, old: str, new: str) -> str:
    """`text` with the lines `old` stands for replaced by `new`, found as a SEARCH part is (in one
    place only, whitespace at line ends or both ends ignored, the file's indentation and line ends
    kept): for an agent's replacement whose text is not in the file as written.

    Raises:
        EditBlockError: `old` stands nowhere, or in more than one place.
    """
    def lines(part: str) -> list[str]:
        return part.removesuffix("\n").split("\n")

    done = _apply(text, _Block([], lines(old), lines(new) if new else []), exists=True)
    if isinstance(done, _Failure):
        raise EditBlockError(done.reason.replace("its SEARCH lines", "the old text"))
    return done


def _parse(text: str) -> tuple[list[_Block], str | None]:
    blocks: list[_Block] = []
    above: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not _HEAD.match(lines[i]):
            if lines[i].strip():
                above.insert(0, lines[i])
                del above[_NAMES_ABOVE:]
            i += 1
            continue
        search: list[str] = []
        i += 1
        while i < len(lines) and not _DIVIDER.match(lines[i]):
            if _HEAD.match(lines[i]) or _TAIL.match(lines[i]):
                return blocks, f"block {len(blocks) + 1} has no ======= line between SEARCH and REPLACE"
            search.append(lines[i].rstrip("\r"))
            i += 1
        replace: list[str] = []
        i += 1
        while i < len(lines) and not _TAIL.match(lines[i]):
            if _HEAD.match(lines[i]) or _DIVIDER.match(lines[i]):
                return blocks, f"block {len(blocks) + 1} does not end with >>>>>>> REPLACE"
            replace.append(lines[i].rstrip("\r"))
            i += 1
        if i >= len(lines):
            return blocks, f"block {len(blocks) + 1} does not end with >>>>>>> REPLACE"
        blocks.append(_Block(above, search, replace))
        above = []
        i += 1
    return blocks, None


def _block_path(block: _Block, files: RepoFiles) -> str | None | _Failure:
    """The file a block names; None when it names none (it takes the previous block's), a
    failure when the line that names it gives a path the repository cannot take."""
    for line in block.above:
        fence = _FENCE.match(line)
        source = (line[fence.end():] if fence else line).strip().strip("*`#:").strip()
        whole = files.existing(source.removeprefix("./"))  # also a file with no extension (Makefile, bin/tool)
        if whole is not None:
            return whole
        found = named_path(source, "", files)
        if found is not None:
            return found
        if _BARE_PATH.match(source):
            return _Failure(f"{source} is not a file of the repository, nor a new file in one of its folders")
    return None


def _apply(text: str, block: _Block, *, exists: bool) -> str | _Failure:
    if not block.search or (not exists and not any(line.strip() for line in block.search)):
        if exists and text and not text.endswith("\n"):
            text += "\n"
        return text + "".join(line + "\n" for line in block.replace)
    if not exists:
        return _Failure("the file does not exist; a new file's block has an empty SEARCH part")
    lines = text.split("\n")  # a final "" stands for the newline at the end of the file
    search, replace = _trim_blank_edges(block.search, block.replace)
    at = locate(lines, search)
    if at is None:
        first = next((line.strip() for line in search if line.strip()), "blank lines")[:80]
        if stands_loosely(lines, search):
            return _Failure(f"its SEARCH lines (from `{first}`) stand in more than one place; include more lines "
                            "so they match one")
        return _Failure(f"its SEARCH lines (from `{first}`) are not in the file; copy them exactly as the file has them")
    found = lines[at:at + len(search)]
    replace = _reindent(replace, search, found)
    if found and all(line.endswith("\r") for line in found):  # a file with CRLF line ends keeps them
        replace = [line + "\r" for line in replace]
    lines[at:at + len(search)] = replace
    return "\n".join(lines)


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    """Both parts without the blank lines they both start or end with (padding a model put
    around its lines, which need not stand in the file); a blank line only one part has is kept,
    since dropping it would add or remove a line."""
    start = 0
    while start < min(len(search), len(replace)) and not search[start].strip() and not replace[start].strip():
        start += 1
    end = 0
    while (end < min(len(search), len(replace)) - start and not search[-1 - end].strip()
           and not replace[-1 - end].strip()):
        end += 1
    return search[start:len(search) - end], replace[start:len(replace) - end]


def _reindent(replace: list[str], search: list[str], found: list[str]) -> list[str]:
    """`replace` with the indentation change that turns `search` into the `found` lines, when
    every non-blank line changed by the same prefix (added or removed); else as given."""
    pairs = [(s, f) for s, f in zip(search, found, strict=True) if s.strip()]
    if all(s.rstrip() == f.rstrip() for s, f in pairs):
        return replace
    added = {_indent(f)[:len(_indent(f)) - len(_indent(s))] for s, f in pairs if _indent(f).endswith(_indent(s))}
    if len(added) == 1 and all(_indent(f).endswith(_indent(s)) for s, f in pairs):
        prefix = added.pop()
        return [prefix + line if line.strip() else line for line in replace]
    removed = {_indent(s)[:len(_indent(s)) - len(_indent(f))] for s, f in pairs if _indent(s).endswith(_indent(f))}
    if len(removed) == 1 and all(_indent(s).endswith(_indent(f)) for s, f in pairs):
        prefix = removed.pop()
        return [line.removeprefix(prefix) for line in replace]
    return replace


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]
