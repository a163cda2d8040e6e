"""How often a correct change still goes in when its diff has the faults models write, and
whether it goes in right: real patches, made sloppy in fixed ways, applied three ways.

Real changes: the Debian held-out tune split's patches (`bench/context_heldout`: upstream fixes
to 42 real Python packages, applied to their real parent trees, rebuilt from the download cache
as `run.py` does). Each patch is first written as git writes it (3 lines of context) and its
result kept as the truth. Then each fault below is put into every hunk, and the faulty diff is
applied by `git apply` as it stands, by `git apply --recount`, and by ours
(`apply_patch_in_worktree(lenient=True)`: git first, then `server.validation.lenient_patch`).
An outcome is `right` (the files equal the truth), `wrong` (applied, but the files differ: the
worst outcome, as a wrong change can pass weak checks) or `refused`.

    python bench/bench_patch_forms.py [--work /tmp/heldout-work] [--cases N]

The faults (each alone): line numbers off by 7; line counts off by one; `@@ ... @@` with no
numbers; no trailing context (the counts left as they were); context lines without their
indentation; blank context lines without their leading space; the first context line of each
hunk replaced by one the file does not hold. "none" is the control: every method must get it
right.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "context_heldout"))
sys.path.insert(0, str(HERE.parent))

import debsrc  # noqa: E402
import run as heldout  # noqa: E402

from server.errors import PatchApplyError, WorkspaceError  # noqa: E402
from server.validation.worktree import apply_patch_in_worktree, diff_files  # noqa: E402

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


def _git(cwd: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True)


def _hunks(diff: str, edit: Callable[[list[str]], list[str]]) -> str:
    """`diff` with `edit` applied to each hunk's lines (header first)."""
    out: list[str] = []
    hunk: list[str] = []
    for line in diff.split("\n"):
        if line.startswith(("@@", "diff --git")):  # git writes `diff --git` before each file
            if hunk:
                out += edit(hunk)
                hunk = []
        if line.startswith("@@"):
            hunk = [line]
        elif hunk and (line[:1] in (" ", "+", "-") or line == ""):
            hunk.append(line)
        else:
            if hunk:
                out += edit(hunk)
                hunk = []
            out.append(line)
    if hunk:
        out += edit(hunk)
    return "\n".join(out)


def _header(hunk: list[str], shift: int = 0, count: int = 0) -> list[str]:
    m = _HEADER.match(hunk[0])
    if not m:
        return hunk
    a, b, c, d, rest = m.groups()
    head = (f"@@ -{int(a) + shift},{int(b or 1) + count} +{int(c) + shift},{int(d or 1) + count} @@{rest}")
    return [head, *hunk[1:]]


def _no_trailing(hunk: list[str]) -> list[str]:
    body = hunk[1:]
    while body and body[-1] == "":
        body.pop()
    last = max((i for i, line in enumerate(body) if line[:1] in "+-"), default=len(body) - 1)
    return [hunk[0], *body[:last + 1]]


def _misremembered(hunk: list[str]) -> list[str]:
    body = list(hunk[1:])
    if len(body) > 1 and body[0].startswith(" ") and body[1].startswith(" "):
        body[0] = " # a line the model misremembered"
    return [hunk[0], *body]


FAULTS: dict[str, Callable[[str], str]] = {
    "none": lambda d: d,
    "line numbers off by 7": lambda d: _hunks(d, lambda h: _header(h, shift=7)),
    "line counts off by one": lambda d: _hunks(d, lambda h: _header(h, count=1)),
    "no numbers (@@ ... @@)": lambda d: _hunks(d, lambda h: ["@@ ... @@", *h[1:]]),
    "no trailing context": lambda d: _hunks(d, _no_trailing),
    "context lost its indentation": lambda d: _hunks(d, lambda h: [h[0], *(
        " " + line[1:].lstrip() if line.startswith(" ") else line for line in h[1:])]),
    "blank context without its space": lambda d: _hunks(d, lambda h: [h[0], *(
        "" if line == " " else line for line in h[1:])]),
    "a misremembered context line": lambda d: _hunks(d, _misremembered),
}


def truth(ws: Path, patch: bytes, strip: int, tmp: Path) -> tuple[str, dict[str, str]] | None:
    """The patch as git writes it and the files it leaves, from a scratch worktree of `ws`."""
    tree = tmp / "truth"
    if _git(ws, "worktree", "add", "--detach", "-q", str(tree), "HEAD").returncode != 0:
        return None
    try:
        if _git(tree, "apply", f"-p{strip}", "--whitespace=nowarn", "-", data=patch).returncode != 0:
            return None
        _git(tree, "add", "-A")
        diff = _git(tree, "diff", "--cached", "--no-color", "--no-ext-diff").stdout.decode("utf-8", "replace")
        files = {p: (tree / p).read_text(encoding="utf-8", errors="replace") for p in diff_files(diff)
                 if (tree / p).is_file()}
        return diff, files
    finally:
        _git(ws, "worktree", "remove", "--force", str(tree))


def git_way(ws: Path, diff: str, extra: list[str], tmp: Path) -> dict[str, str] | None:
    tree = tmp / "git"
    _git(ws, "worktree", "add", "--detach", "-q", str(tree), "HEAD")
    try:
        if _git(tree, "apply", "-p1", *extra, "--whitespace=nowarn", "-", data=diff.encode()).returncode != 0:
            return None
        return {p: (tree / p).read_text(encoding="utf-8", errors="replace") for p in diff_files(diff) if (tree / p).is_file()}
    finally:
        _git(ws, "worktree", "remove", "--force", str(tree))


async def our_way(ws: Path, diff: str, paths: list[str]) -> dict[str, str] | None:
    try:
        handle = await apply_patch_in_worktree(ws, diff, env={"PATH": "/usr/bin:/bin"}, lenient=True)
    except (PatchApplyError, WorkspaceError):
        return None
    async with handle:
        return {p: (handle.path / p).read_text(encoding="utf-8", errors="replace") for p in paths
                if (handle.path / p).is_file()}


def verdict(got: dict[str, str] | None, want: dict[str, str]) -> str:
    if got is None:
        return "refused"
    return "right" if all(got.get(p) == text for p, text in want.items()) else "wrong"


def tune_cases(description: str) -> tuple[argparse.Namespace, list[dict[str, Any]]]:
    """The command line (`--work`, `--cases`) and the Debian tune split's cases it asks for."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work", default="/tmp/heldout-work", help="run.py's --work (the rebuilt parent trees)")
    parser.add_argument("--cases", type=int, default=0, help="at most this many cases (0: all)")
    args = parser.parse_args()
    cases = [json.loads(line) for line in heldout.DATA.read_text().splitlines() if line.strip()]
    return args, [c for c in cases if c["split"] == "tune"][: args.cases or None]


def main() -> None:
    args, cases = tune_cases(__doc__.split("\n\n")[0])
    started = time.perf_counter()
    tally: dict[str, Counter[str]] = {f"{fault}|{way}": Counter() for fault in FAULTS
                                      for way in ("git", "git --recount", "ours")}
    used = hunks = 0
    work = Path(args.work)
    for case in cases:
        ws = heldout.materialize(case, work)
        debian = debsrc.read_debian(heldout.cached_file(case, case["debian"]["name"], case["debian"]["sha256"]))
        strip = dict(debsrc.series(debian))[case["patch"]]
        with tempfile.TemporaryDirectory(prefix="pwm-patch-forms-") as tmp:
            made = truth(ws, debian["debian/patches/" + case["patch"]], strip, Path(tmp))
            if made is None:
                continue
            diff, want = made
            used += 1
            hunks += sum(1 for line in diff.split("\n") if line.startswith("@@"))
            for fault, make in FAULTS.items():
                faulty = make(diff)
                tally[f"{fault}|git"][verdict(git_way(ws, faulty, [], Path(tmp)), want)] += 1
                tally[f"{fault}|git --recount"][verdict(git_way(ws, faulty, ["--recount"], Path(tmp)), want)] += 1
                tally[f"{fault}|ours"][verdict(asyncio.run(our_way(ws, faulty, list(want))), want)] += 1
    print(f"{used} real patches ({hunks} hunks) from the Debian tune split; right / wrong / refused per method")
    print(f"{'fault':34s} {'git':>14s} {'git --recount':>14s} {'ours':>14s}")
    totals: dict[str, Counter[str]] = {"git": Counter(), "git --recount": Counter(), "ours": Counter()}
    for fault in FAULTS:
        cells = []
        for way in ("git", "git --recount", "ours"):
            c = tally[f"{fault}|{way}"]
            if fault != "none":
                totals[way].update(c)
            cells.append(f"{c['right']:>4d}/{c['wrong']:>3d}/{c['refused']:>3d}")
        print(f"{fault:34s} {cells[0]:>14s} {cells[1]:>14s} {cells[2]:>14s}")
    faulty_total = used * (len(FAULTS) - 1)
    print(f"{'all faults':34s} " + " ".join(
        f"{t['right']:>4d}/{t['wrong']:>3d}/{t['refused']:>3d}".rjust(14) for t in totals.values()))
    print("right with a fault: " + ", ".join(
        f"{way} {t['right'] / faulty_total:.1%}" for way, t in totals.items()) + f" of {faulty_total}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
