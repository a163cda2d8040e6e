"""Real changes written as SEARCH/REPLACE edit blocks (aider's format): how often they go in, and
go in right, against what the server did with such an answer before (read it as whole files).

Real changes: the Debian held-out tune split's patches, as `bench_patch_forms.py` takes them (each
applied to its real parent tree, the result kept as the truth). Each change is written as edit
blocks, one per hunk of git's diff (SEARCH: the hunk's context and removed lines; REPLACE: its
context and added lines; a new file: an empty SEARCH), in the forms below, and read two ways:
`edit_blocks_diff` (this server now) and `whole_files_diff` (the server before: an answer with no
diff was read as whole files). Each diff read is applied by `git apply` in a scratch worktree. An
outcome is `right` (the files equal the truth), `wrong` (applied, files differ) or `refused`.

    python bench/bench_edit_blocks.py [--work /tmp/heldout-work] [--cases N]

Forms: as aider writes them (path above the fence); the path inside the fence (aider's
diff-fenced); the blocks in reverse order; each block without its lines' common indentation;
SEARCH with only a hunk's first context line, its removed lines and its last context line (short
blocks, which stand in more than one place more often).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "context_heldout"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_patch_forms as forms  # noqa: E402
import debsrc  # noqa: E402
import run as heldout  # noqa: E402

from server.validation.edit_blocks import edit_blocks_diff  # noqa: E402
from server.validation.whole_files import whole_files_diff  # noqa: E402

Block = tuple[str, list[str], list[str]]  # path, search lines, replace lines


def blocks_of(diff: str) -> list[Block] | None:
    """One block per hunk of git's `diff`; None when it deletes or renames a file."""
    blocks: list[Block] = []
    path: str | None = None
    for line in diff.rstrip("\n").split("\n"):
        if line.startswith(("deleted file", "rename from", "Binary files")):
            return None
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith(("diff --git", "--- ", "index ", "new file", "old mode", "new mode", "similarity")):
            continue
        elif line.startswith("@@"):
            if path is None:
                return None
            blocks.append((path, [], []))
        elif blocks and line.startswith(" "):
            blocks[-1][1].append(line[1:])
            blocks[-1][2].append(line[1:])
        elif blocks and line.startswith("-"):
            blocks[-1][1].append(line[1:])
        elif blocks and line.startswith("+"):
            blocks[-1][2].append(line[1:])
    return blocks


def _write(blocks: list[Block], inside: bool = False) -> str:
    out = []
    for path, search, replace in blocks:
        body = "<<<<<<< SEARCH\n" + "".join(s + "\n" for s in search) + "=======\n" + \
               "".join(r + "\n" for r in replace) + ">>>>>>> REPLACE\n"
        out.append(f"```python\n{path}\n{body}```\n" if inside else f"{path}\n```python\n{body}```\n")
    return "Here is the change.\n\n" + "\n".join(out)


def _dedent(block: Block) -> Block:
    path, search, replace = block
    indents = [line[:len(line) - len(line.lstrip())] for line in search + replace if line.strip()]
    cut = len(os.path.commonprefix(indents)) if indents else 0  # the whitespace every line starts with
    return path, [line[cut:] for line in search], [line[cut:] for line in replace]


def _short(block: Block) -> Block:
    """SEARCH with only the first context line, the removed lines and the last context line."""
    path, search, replace = block
    if not search:
        return block
    lead = 0
    while lead < min(len(search), len(replace)) and search[lead] == replace[lead]:
        lead += 1
    trail = 0
    while trail < min(len(search), len(replace)) - lead and search[-1 - trail] == replace[-1 - trail]:
        trail += 1
    keep_lead, keep_trail = min(lead, 1), min(trail, 1)
    s = search[lead - keep_lead:len(search) - trail + keep_trail]
    r = replace[lead - keep_lead:len(replace) - trail + keep_trail]
    return path, s, r


FORMS: dict[str, Callable[[list[Block]], str]] = {
    "as aider writes them": lambda b: _write(b),
    "path inside the fence": lambda b: _write(b, inside=True),
    "blocks in reverse order": lambda b: _write(list(reversed(b))),
    "without common indentation": lambda b: _write([_dedent(x) for x in b]),
    "short SEARCH (1 context line each side)": lambda b: _write([_short(x) for x in b]),
}


async def read(ws: Path, text: str, how: str) -> str | None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if how == "edit blocks (now)":
        return (await edit_blocks_diff(ws, "HEAD", text, env)).diff
    return (await whole_files_diff(ws, "HEAD", text, env)).diff


def main() -> None:
    args, cases = forms.tune_cases(__doc__.split("\n\n")[0])
    started = time.perf_counter()
    ways = ("edit blocks (now)", "whole files (before)")
    tally: dict[str, Counter[str]] = {f"{form}|{way}": Counter() for form in FORMS for way in ways}
    used = n_blocks = skipped = 0
    seconds: list[float] = []
    for case in cases:
        ws = heldout.materialize(case, Path(args.work))
        debian = debsrc.read_debian(heldout.cached_file(case, case["debian"]["name"], case["debian"]["sha256"]))
        strip = dict(debsrc.series(debian))[case["patch"]]
        with tempfile.TemporaryDirectory(prefix="pwm-edit-blocks-") as tmp:
            made = forms.truth(ws, debian["debian/patches/" + case["patch"]], strip, Path(tmp))
            if made is None:
                continue
            diff, want = made
            blocks = blocks_of(diff)
            if not blocks:
                skipped += 1
                continue
            used += 1
            n_blocks += len(blocks)
            for form, write in FORMS.items():
                text = write(blocks)
                for way in ways:
                    t0 = time.perf_counter()
                    got = asyncio.run(read(ws, text, way))
                    if way == ways[0]:
                        seconds.append(time.perf_counter() - t0)
                    files = forms.git_way(ws, got, [], Path(tmp)) if got else None
                    tally[f"{form}|{way}"][forms.verdict(files, want)] += 1
    print(f"{used} real changes ({n_blocks} blocks) from the Debian tune split ({skipped} skipped: they delete or "
          "rename a file); right / wrong / refused")
    print(f"{'form':42s} " + " ".join(f"{w:>22s}" for w in ways))
    for form in FORMS:
        cells = [tally[f"{form}|{w}"] for w in ways]
        print(f"{form:42s} " + " ".join(f"{c['right']:>4d}/{c['wrong']:>3d}/{c['refused']:>3d}".rjust(22) for c in cells))
    seconds.sort()
    if seconds:
        print(f"reading one answer (edit blocks): median {seconds[len(seconds) // 2] * 1000:.1f} ms, "
              f"max {seconds[-1] * 1000:.1f} ms (git ls-tree and git show of each file)")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
