"""Patches from a model: pull the diff out of its reply, try it in a temporary git worktree
(the user's working tree is never touched), and — only on an explicit, separate request —
apply a validated patch to the user's tree, refusing a dirty or diverged one.

    diff = extract_unified_diff(model_reply)
    async with await apply_patch_in_worktree(repo, diff, env=settings.env) as wt:   # wt.path, wt.base_commit
        report = await validate_path(wt.path, options, base_env=env)
    await apply_patch_to_tree(repo, diff, base_commit=wt.base_commit, env=settings.env)

A model's diff that git refuses (wrong hunk line numbers or counts, uneven context) may still
go into the worktree by its hunks' text (`lenient=True`, `lenient_patch`); the handle then
carries the change as git writes it (`applied_diff`), and that is what is checked, returned and
later applied to the user's tree, strictly. The paths an answer names are read from the
repository's root, else from the folder the caller's workspace is (`RepoFiles`), in the diff's
headers (`paths_from_root`) as in SEARCH/REPLACE or whole-file answers.

git runs as an argument list with the diff on stdin, with hooks and fsmonitor switched off so a
repository's own configuration cannot make it run other programs. A worktree sees the
checkout's installed dependencies (`node_modules`, `.venv`: `installed`), so a project's own test
runner and packages are there. Its temporary folder names this process as its owner (`leftovers`):
removed at exit when a cleanup was cut short, or before a later worktree is made when the process
was killed (the repository's worktree list is then pruned).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType

from server.errors import PatchApplyError, WorkspaceError, not_a_repository
from server.validation import installed, leftovers
from server.validation.lenient_patch import LenientPatchError, apply_leniently
from server.validation.procs import ProcResult, child_env, run_process

__all__ = [
    "AppliedPatch",
    "PatchApplyError",
    "WorktreeHandle",
    "apply_patch_in_worktree",
    "apply_patch_to_tree",
    "RepoFiles",
    "open_worktree",
    "paths_from_root",
    "repo_files",
    "diff_files",
    "diff_stat",
    "link_installed",
    "new_worktree_folder",
    "run_git",
    "extract_unified_diff",
    "staged_diff",
    "patch_strip_level",
]

_GIT_TIMEOUT_S = 120.0
# What git prints is data here (file texts, file lists, diffs), not a log to keep the tail of:
# the process runner's usual 64 KB cap kept only the end of a large file or patch.
_GIT_STDOUT_CAP = 1 << 30
_SAFE_GIT = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.quotepath=off"]
# A fence opens and closes on lines of their own, the closing one as the opening one was written:
# a diff's own lines always start with a prefix (`+```python` adds a Markdown fence), so they never
# close it.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*\n"
                    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$", re.DOTALL | re.MULTILINE)
_DIFF_LINE = re.compile(
    r"^(diff --git |index |--- |\+\+\+ |@@ |[ +\-]|\\ No newline|new file mode|deleted file mode|"
    r"old mode|new mode|similarity index|dissimilarity index|rename from|rename to|copy from|copy to|"
    r"Binary files)"
)


def _has_diff(text: str) -> bool:
    return bool(re.search(r"^--- .+\n\+\+\+ .+\n@@ ", text, re.MULTILINE)) or bool(
        re.search(r"^diff --git ", text, re.MULTILINE)
    )


def _trim_to_diff(text: str) -> str | None:
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("diff --git ")
         or (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "))),
        None,
    )
    if start is None:
        return None
    end = start
    for i in range(start, len(lines)):
        if _DIFF_LINE.match(lines[i]) or lines[i] == "":
            end = i
        else:
            break
    body = "\n".join(lines[start : end + 1]).rstrip("\n")
    return body + "\n" if _has_diff(body + "\n") else None


def extract_unified_diff(model_text: str) -> str | None:
    """The unified diff in a model's reply: ```diff / ```patch fences (several are joined), else
    raw `--- a/` / `+++ b/` (or `diff --git`) blocks. None when the reply holds no diff."""
    fenced = []
    for match in _FENCE.finditer(model_text):
        lang, body = match.group("lang"), match.group("body")
        if lang.lower() in ("diff", "patch", "udiff") or (not lang and _has_diff(body)):
            trimmed = _trim_to_diff(body)
            if trimmed:
                fenced.append(trimmed)
    if fenced:
        return "".join(fenced)
    return _trim_to_diff(model_text)


def _headers(lines: list[str]) -> list[int]:
    """Where each file header of a diff's `lines` starts: a `--- ` line directly followed by a
    `+++ ` line (a removed line of `-- SQL comment` is `--- SQL comment`, and is no header)."""
    return [i for i in range(len(lines) - 1) if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ ")]


def _header_names(diff: str) -> list[str]:
    """The names in each file header of `diff`, `/dev/null` left out."""
    lines = diff.splitlines()
    names = (line[4:].split("\t")[0].strip() for i in _headers(lines) for line in lines[i:i + 2])
    return [n for n in names if n != "/dev/null"]


def paths_from_root(diff: str, files: RepoFiles, level: int) -> str:
    """`diff` with each file path that names no file of the repository's root, but one under the
    workspace's folder (`RepoFiles.existing`; a new file's folder, `RepoFiles.new_file`), written
    from the root: the change a model meant, not a refusal."""
    def rooted(name: str, new: bool) -> str:
        lead, path = (name[:2], name[2:]) if level == 1 and name.startswith(("a/", "b/")) else ("", name)
        found = files.new_file(path) if new else files.existing(path)
        return lead + found if found else name

    lines = diff.splitlines(keepends=True)
    for i in _headers(lines):
        new = lines[i][4:].split("\t")[0].strip() == "/dev/null"
        moves: list[tuple[str, str]] = []
        for k in (i, i + 1):
            name = lines[k][4:].split("\t")[0].strip()
            if name != "/dev/null" and (moved := rooted(name, new)) != name:
                lines[k] = lines[k][:4] + lines[k][4:].replace(name, moved, 1)
                moves.append((name, moved))
        git_line = i - 1
        while git_line >= 0 and not lines[git_line].startswith(("diff --git ", "--- ", "+++ ", "@@")):
            git_line -= 1  # past index, mode and similarity lines to the header's `diff --git`
        if moves and git_line >= 0 and lines[git_line].startswith("diff --git "):
            for name, moved in dict(moves).items():
                lines[git_line] = lines[git_line].replace(f" {name}", f" {moved}", 1)
    return "".join(lines)


def patch_strip_level(diff: str) -> int:
    """1 for git-style `a/` `b/` prefixes (the usual case), else 0."""
    names = _header_names(diff)
    return 0 if names and not names[0].startswith(("a/", "b/")) else 1


def diff_files(diff: str) -> tuple[str, ...]:
    """The paths a unified diff changes (relative, without a/ b/ prefixes), in order."""
    files: list[str] = []
    for name in _header_names(diff):
        name = name[2:] if name.startswith(("a/", "b/")) else name
        if name not in files:
            files.append(name)
    return tuple(files)


def diff_stat(diff: str) -> dict[str, int]:
    """Files, inserted and deleted lines of a unified diff (what `git diff --shortstat` counts)."""
    lines = diff.splitlines()
    headers = {i + k for i in _headers(lines) for k in (0, 1)}
    body = [line for i, line in enumerate(lines) if i not in headers]
    return {"files": len(diff_files(diff)), "insertions": sum(1 for line in body if line.startswith("+")),
            "deletions": sum(1 for line in body if line.startswith("-"))}


async def _tracked_files(repo: Path, base: str, env: Mapping[str, str]) -> set[str] | None:
    """The paths `base` holds, from the repository's root (as an answer is asked to give them,
    whatever folder of the repository the workspace is); None when git cannot list them."""
    listed = await run_git(["ls-tree", "-r", "--full-tree", "--name-only", base], repo, env)
    return set(listed.stdout.splitlines()) if listed.exit_code == 0 else None


@dataclass(frozen=True)
class RepoFiles:
    """The files a commit holds (paths from the repository's root), their folders, and the folder
    of the repository the caller's workspace is (`prefix`, "" or ending in "/"). A path an answer
    gives is read from the root first, else from that folder: a task's own words name files from
    the folder the caller works in."""

    tracked: frozenset[str]
    folders: frozenset[str]
    prefix: str = ""

    @classmethod
    def of(cls, tracked: set[str] | frozenset[str], prefix: str = "") -> RepoFiles:
        return cls(frozenset(tracked), frozenset(str(PurePosixPath(p).parent) for p in tracked), prefix)

    def existing(self, candidate: str) -> str | None:
        """`candidate` as a file the commit holds, from the root or else from the workspace's folder."""
        if candidate in self.tracked:
            return candidate
        inner = self.prefix + candidate
        return inner if self.prefix and inner in self.tracked else None

    def new_file(self, candidate: str) -> str | None:
        """`candidate` as a new file in a folder of the root, or else of the workspace's folder."""
        if str(PurePosixPath(candidate).parent) in self.folders:
            return candidate
        inner = self.prefix + candidate
        return inner if self.prefix and str(PurePosixPath(inner).parent) in self.folders else None

    def resolve(self, candidate: str) -> str | None:
        """`candidate` as a path from the root: a file the commit holds, else a new file."""
        return self.existing(candidate) or self.new_file(candidate)


async def repo_files(repo: Path, base: str, env: Mapping[str, str]) -> RepoFiles | None:
    """`RepoFiles` of `base` for the workspace `repo` (a folder of a git work tree); None when git
    cannot list them."""
    tracked = await _tracked_files(repo, base, env)
    if tracked is None:
        return None
    shown = await run_git(["rev-parse", "--show-prefix"], repo, env)
    return RepoFiles.of(tracked, shown.stdout.strip() if shown.exit_code == 0 else "")


async def run_git(
    args: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes | None = None, *,
    stdout_cap: int = _GIT_STDOUT_CAP, stdout_head: bool = False,
) -> ProcResult:
    """git as an argument list (never a shell), with hooks and fsmonitor off. Its output is read
    whole unless `stdout_cap` says otherwise (then its last `stdout_cap` bytes are kept, or with
    `stdout_head` its first).

    `git worktree` commands on one repository run one at a time: a `prune` racing another
    task's `add` can delete the half-made worktree's admin files.

    Raises: WorkspaceError: git is not installed."""
    if args and args[0] == "worktree":
        async with _worktree_lock(cwd):
            return await _git(args, cwd, env, stdin, stdout_cap, stdout_head)
    return await _git(args, cwd, env, stdin, stdout_cap, stdout_head)


_WORKTREE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


def _worktree_lock(repo: Path) -> asyncio.Lock:
    locks = _WORKTREE_LOCKS.setdefault(asyncio.get_running_loop(), {})  # a lock belongs to one event loop
    return locks.setdefault(repo, asyncio.Lock())


async def _git(args: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes | None, stdout_cap: int,
               stdout_head: bool) -> ProcResult:
    loop = asyncio.get_running_loop()
    try:
        return await run_process(
            ["git", *_SAFE_GIT, *args], cwd=cwd, env=env, deadline=loop.time() + _GIT_TIMEOUT_S, stdin=stdin,
            stdout_cap=stdout_cap, stdout_head=stdout_head,
        )
    except FileNotFoundError:
        raise WorkspaceError("git is not installed") from None


def _env(env: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed environment git runs with, from the server's settings' environment."""
    return child_env(env)


async def _repo_root(path: Path, env: Mapping[str, str]) -> Path:
    proc = await run_git(["rev-parse", "--show-toplevel"], path, env)
    if proc.exit_code != 0:
        raise not_a_repository("workspace", path, proc.stderr)
    return Path(proc.stdout.strip())


async def _rev(repo: Path, rev: str, env: Mapping[str, str]) -> str:
    proc = await run_git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo, env)
    if proc.exit_code != 0:
        raise WorkspaceError(f"{rev!r} is not a commit in {repo}")
    return proc.stdout.strip()


@dataclass
class WorktreeHandle:
    """A temporary worktree at `base_commit` with a patch applied; `cleanup()` removes it.

    `path` is the worktree's root; `workspace` is the directory in it that stands for the
    workspace the worktree was made from (the same subdirectory when that lies below the
    repository root): validate that one, so a subdirectory workspace keeps its scope."""

    repo_root: Path
    path: Path
    base_commit: str
    workspace: Path = Path()
    # The diff as applied, when it differs from the one given: git refused that one and it went in
    # by its hunks' text (`lenient_patch`: what `git diff` says changed, which `git apply` takes as
    # it is), or its paths were the workspace folder's (`paths_from_root`).
    applied_diff: str | None = None
    _env: dict[str, str] = field(repr=False, default_factory=dict)
    _closed: bool = False

    async def cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        await run_git(["worktree", "remove", "--force", str(self.path)], self.repo_root, self._env)
        await asyncio.to_thread(shutil.rmtree, self.path.parent, True)
        leftovers.forget(self.path.parent)
        await run_git(["worktree", "prune"], self.repo_root, self._env)

    async def __aenter__(self) -> WorktreeHandle:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cleanup()


async def open_worktree(repo_path: Path, *, base: str = "HEAD", env: Mapping[str, str]) -> WorktreeHandle:
    """A temporary clean worktree of the repository holding `repo_path`, detached at `base`; the
    handle's `workspace` is `repo_path`'s folder in it.

    Raises:
        WorkspaceError: not a repository, or `base` is not a commit.
    """
    child = _env(env)
    root = await _repo_root(repo_path, child)
    sha = await _rev(root, base, child)
    parent = await new_worktree_folder("pwm-worktree-", root, child)
    tree = parent / "tree"
    asked, top = await asyncio.to_thread(repo_path.resolve), await asyncio.to_thread(root.resolve)
    inside = asked.relative_to(top) if top in asked.parents else Path()
    handle = WorktreeHandle(repo_root=root, path=tree, base_commit=sha, workspace=tree / inside, _env=child)
    added = await run_git(["worktree", "add", "--detach", "--quiet", str(handle.path), sha], root, child)
    if added.exit_code != 0:
        await asyncio.to_thread(shutil.rmtree, parent, True)
        leftovers.forget(parent)
        raise WorkspaceError(f"cannot create a worktree of {root}: {added.stderr.strip()}")
    await link_installed(root, handle.path, child)
    return handle


async def new_worktree_folder(prefix: str, repo_root: Path, env: Mapping[str, str]) -> Path:
    """A temporary folder (owned by this process: `leftovers`) to add a worktree of `repo_root` in,
    after the folders of servers no longer running are removed and, when some were, the
    repository's list of worktrees is pruned of those gone (a removal of our own prunes already)."""
    if await asyncio.to_thread(leftovers.sweep_stale):
        await run_git(["worktree", "prune"], repo_root, env)
    return await asyncio.to_thread(leftovers.make_dir, prefix, repo_root)


async def link_installed(checkout: Path, tree: Path, env: Mapping[str, str]) -> list[str]:
    """Give the worktree `tree` (in a temporary folder of its own) the checkout's installed
    dependencies (`installed`): cargo's shared build folder named in that temporary folder, and the
    folders mirrored, each ignored in the worktree too (one that would show in its status, where
    the commit's ignore rules differ from the checkout's, is taken out again); those folders."""
    await asyncio.to_thread(installed.share_cargo_target, tree.parent, checkout, env)
    listing = await run_git(["ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
                            checkout, env)
    if listing.exit_code != 0:
        return []
    made = await asyncio.to_thread(installed.mirror, checkout, tree, installed.dependency_dirs(listing.stdout))
    if not made:
        return []
    check = await run_git(["check-ignore", "-z", "--stdin"], tree, env, stdin="\0".join(made).encode() + b"\0")
    ignored = set(check.stdout.split("\0")) if check.exit_code == 0 else set()
    for rel in made:
        if rel not in ignored:
            await asyncio.to_thread(shutil.rmtree, tree / rel, True)
    return [rel for rel in made if rel in ignored]


async def apply_patch_in_worktree(
    repo_path: Path, unified_diff: str, *, base: str = "HEAD", env: Mapping[str, str], lenient: bool = False
) -> WorktreeHandle:
    """Create a temporary worktree of `repo_path` at `base` and apply `unified_diff` there.

    `lenient`: when `git apply` refuses the diff, try it with its hunks' line counts recounted,
    then by its hunks' text (`lenient_patch`); the handle's `applied_diff` then holds the change
    as git writes it.

    Raises:
        WorkspaceError: not a repository, or `base` is not a commit.
        PatchApplyError: the diff is empty or does not apply (git's message included).
    """
    if not unified_diff.strip():
        raise PatchApplyError("the patch is empty")
    handle = await open_worktree(repo_path, base=base, env=env)
    child, inside = handle._env, handle.workspace.relative_to(handle.path)
    try:
        level = patch_strip_level(unified_diff)
        if inside != Path():
            files = RepoFiles.of(await _tracked_files(handle.path, handle.base_commit, child) or set(),
                                 f"{inside.as_posix()}/")
            rooted = paths_from_root(unified_diff, files, level)
            if rooted != unified_diff:
                unified_diff = handle.applied_diff = rooted
        applied = await run_git(
            ["apply", f"-p{level}", "--whitespace=nowarn", "-"], handle.path, child, unified_diff.encode()
        )
        if applied.exit_code != 0:
            refused = f"the patch does not apply at {handle.base_commit[:12]}: {applied.stderr.strip()[-2000:]}"
            if not lenient:
                raise PatchApplyError(refused)
            handle.applied_diff = await _apply_leniently(handle.path, unified_diff, level, child, refused)
    except PatchApplyError as exc:
        await handle.cleanup()
        raise PatchApplyError(f"{exc}{await _uncommitted_note(handle, unified_diff)}") from None
    except BaseException:
        await handle.cleanup()
        raise
    return handle


async def _uncommitted_note(handle: WorktreeHandle, diff: str) -> str:
    """Why a patch may not apply that the caller can mend: the files it changes have uncommitted
    changes in the checkout (a patch made against the working copy); "" when none has."""
    files = list(diff_files(diff))
    if not files:
        return ""
    status = await run_git(["--literal-pathspecs", "status", "--porcelain", "-z", "--no-renames", "--", *files], handle.repo_root,
                           handle._env)
    dirty = [entry[3:] for entry in status.stdout.split("\0") if len(entry) > 3] if status.exit_code == 0 else []
    if not dirty:
        return ""
    return (f"\n{', '.join(dirty[:10])} {'has' if len(dirty) == 1 else 'have'} uncommitted changes in "
            f"{handle.repo_root}: a patch is applied to the committed tree (commit {handle.base_commit[:12]}), "
            "not to the working copy; commit or stash those changes, or make the patch against the commit")


async def _apply_leniently(tree: Path, diff: str, level: int, env: dict[str, str], refused: str) -> str:
    """Apply `diff` to the clean worktree `tree` that git's strict apply refused: recounted, else
    by its hunks' text; the change as `git diff` then reads it.

    Raises:
        PatchApplyError: neither way applies it (git's first refusal and why the text did not fit).
    """
    recounted = await run_git(["apply", f"-p{level}", "--recount", "--whitespace=nowarn", "-"], tree, env,
                              diff.encode())
    if recounted.exit_code != 0:
        try:
            await asyncio.to_thread(apply_leniently, tree, diff, level)
        except (LenientPatchError, OSError) as exc:
            raise PatchApplyError(f"{refused}\nby its hunks' text: {exc}") from None
    changed = await staged_diff(tree, "HEAD", env)
    if not changed.strip():
        raise PatchApplyError(f"{refused}\nby its hunks' text: it changes nothing")
    await run_git(["reset", "-q"], tree, env)  # leave the change unstaged, as `git apply` does
    return changed


async def staged_diff(tree: Path, base: str, env: Mapping[str, str]) -> str:
    """Everything changed in the worktree `tree` since `base` (new files included), as a unified
    diff with git's a/ b/ prefixes; the changes are left staged."""
    await run_git(["add", "--all"], tree, env)
    proc = await run_git(["diff", "--cached", "--no-color", "--no-ext-diff", base], tree, env)
    return proc.stdout if proc.exit_code == 0 else ""


@dataclass(frozen=True)
class AppliedPatch:
    repo_root: Path
    head: str
    files: tuple[str, ...]


async def apply_patch_to_tree(
    repo_path: Path, diff: str, *, base_commit: str, env: Mapping[str, str]
) -> AppliedPatch:
    """Apply a validated patch to the user's own working tree — only when it is clean and still
    at `base_commit`, the commit the patch was made and validated against.

    Raises:
        WorkspaceError: not a repository; uncommitted changes to tracked files (dirty); HEAD has
            moved since `base_commit` (diverged).
        PatchApplyError: the diff is empty or does not apply.
    """
    if not diff.strip():
        raise PatchApplyError("the patch is empty")
    child = _env(env)
    root = await _repo_root(repo_path, child)
    head = await _rev(root, "HEAD", child)
    base = await _rev(root, base_commit, child)
    if head != base:
        raise WorkspaceError(
            f"diverged: HEAD of {root} is {head[:12]} but the patch was validated at {base[:12]}; "
            "re-run the task on the current HEAD"
        )
    status = await run_git(["status", "--porcelain", "--untracked-files=no"], root, child)
    if status.exit_code != 0 or status.stdout.strip():
        dirty = ", ".join(line[3:] for line in status.stdout.splitlines()[:10])
        raise WorkspaceError(
            f"dirty: {root} has uncommitted changes ({dirty}); commit or stash them before applying"
        )
    level = patch_strip_level(diff)
    stat = await run_git(["apply", f"-p{level}", "--numstat", "-"], root, child, diff.encode())
    applied = await run_git(["apply", f"-p{level}", "--whitespace=nowarn", "-"], root, child, diff.encode())
    if applied.exit_code != 0:
        raise PatchApplyError(f"the patch does not apply to {root}: {applied.stderr.strip()[-2000:]}")
    files = tuple(line.split("\t", 2)[2] for line in stat.stdout.splitlines() if line.count("\t") >= 2)
    return AppliedPatch(repo_root=root, head=head, files=files)
