"""A worktree sees the dependencies installed in the checkout it was made from.

A task's patch is checked (and an agent works) in a fresh git worktree, which holds the tracked
files only: a project's `node_modules` and its `.venv` are ignored by git, so `npm test` found no
`mocha` / `jest` / `vitest` there, and pytest ran without the project's packages. Each ignored
dependency directory of the checkout (`node_modules`, `.venv`, `venv`, at any depth) is mirrored
into the worktree at the same place: a real directory whose entries are symbolic links to the
checkout's entries. A real directory, not one link, because git's usual `node_modules/` pattern
matches directories only: a link in its place would show as a new file in the worktree's status
and in an agent's diff. Nothing in the checkout is written; removing the worktree removes the
links, never what they point at. Two kinds of entry are not linked to the checkout's:

- an entry that is itself a link to the checkout's own files, outside every dependency folder
  (a workspace package: npm's `node_modules/@demo/util -> ../../packages/util`, pnpm's in each
  member's `node_modules`, a `file:` dependency) points at the same path in the worktree, where
  the patch is; `@scope` folders and `.bin` are mirrored entry by entry for this;
- a tool's cache (`.vite`, `.vitest`, `.cache`, ..., any folder holding a `CACHEDIR.TAG`) is
  left out: vitest, vite, babel and eslint write there, and would write into the checkout; they
  make their own in the worktree's real folder instead.

A Poetry, Pipenv or Hatch project usually keeps its virtualenv outside its folder, where its tool
finds it by the folder's path (a worktree's path names none): `outside_env` asks the tool, in the
checkout, once per lock or config file (again a minute later while it names none), and the checks
run pytest with that environment's Python. A conda project names its environment in
`environment.yml` (`name:`, or `prefix:`); conda lists every environment it made in
`~/.conda/environments.txt`, and keeps the rest under its installations' `envs/` folders, so that
one is found by reading, with no conda command run.

A Rust project's build folder is not mirrored (cargo would write into the checkout's): the
worktree's parent folder gets a `.cargo/config.toml` naming one build folder per repository in
the server's cache, so the attempts on a repository compile its dependencies once, not once per
attempt. Cargo reads that file as it walks up from the worktree; a `target-dir` the project's own
config or `CARGO_TARGET_DIR` sets still wins. Sharing a folder is safe only under its lock
(`shared_build`), which `shared_cargo_target` finds it for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from server.settings import cache_dir_of
from server.validation.procs import child_env, run_process

__all__ = ["DEPENDENCY_DIRS", "cargo_target", "conda_env", "dependency_dirs", "mirror", "outside_env", "share_cargo_target",
           "shared_cargo_target"]

DEPENDENCY_DIRS = frozenset({"node_modules", ".venv", "venv"})


def dependency_dirs(listing: str) -> list[str]:
    """The dependency directories among `git ls-files --others --ignored --exclude-standard
    --directory -z`'s entries (paths from the repository root; a folder with a trailing "/", a
    link to one, such as a `.venv` pointing elsewhere, without)."""
    out: list[str] = []
    for entry in listing.split("\0"):
        if not entry:
            continue
        rel = PurePosixPath(entry.rstrip("/"))
        if rel.name in DEPENDENCY_DIRS and not (DEPENDENCY_DIRS & set(rel.parts[:-1])):
            out.append(rel.as_posix())
    return out


# Entries of an installed-dependency folder that tools write their caches into.
_CACHES = frozenset({".cache", ".vite", ".vite-temp", ".vitest", ".vitest-cache", ".parcel-cache", ".eslintcache",
                     ".astro", ".turbo", ".nx"})
_BY_ENTRY = (".bin",)  # folders mirrored entry by entry (with `@scope` folders): they hold links to workspace packages


def mirror(checkout: Path, tree: Path, rels: Iterable[str]) -> list[str]:
    """Mirror each of `rels` from `checkout` into `tree` where the tree has its parent folder and
    nothing in its place; the ones mirrored."""
    made: list[str] = []
    inside = Path(os.path.realpath(checkout))
    for rel in rels:
        source, target = checkout / rel, tree / rel
        if not source.is_dir() or not target.parent.is_dir() or os.path.lexists(target):
            continue
        try:
            target.mkdir()
            for entry in os.scandir(source):
                if not _is_cache(entry):
                    _mirror_entry(entry, target, inside, tree, nested=True)
        except OSError:
            continue  # a half-made mirror still serves what it holds; checks name what is missing
        made.append(rel)
    return made


def _mirror_entry(entry: os.DirEntry[str], into: Path, checkout: Path, tree: Path, *, nested: bool) -> None:
    """Make `into`'s counterpart of the checkout's `entry`: a folder of links for a scope (one
    level down), else a link to where the entry stands for in the worktree (`_link_target`)."""
    if nested and (entry.name.startswith("@") or entry.name in _BY_ENTRY) and entry.is_dir(follow_symlinks=False):
        folder = into / entry.name
        folder.mkdir()
        for inner in os.scandir(entry.path):
            _mirror_entry(inner, folder, checkout, tree, nested=False)
        return
    os.symlink(_link_target(entry.path, checkout, tree), into / entry.name, target_is_directory=entry.is_dir())


def _link_target(path: str, checkout: Path, tree: Path) -> str:
    """The checkout's entry `path`, unless it is a link resolving to the checkout's own files
    outside every dependency folder (and `.git`): then that file's path in the worktree."""
    if not os.path.islink(path):
        return path
    real = Path(os.path.realpath(path))
    if real != checkout and checkout not in real.parents:
        return path
    rel = real.relative_to(checkout)
    if (DEPENDENCY_DIRS | {".git"}) & set(rel.parts):
        return path
    return str(tree / rel)


def _is_cache(entry: os.DirEntry[str]) -> bool:
    if entry.name in _CACHES or (entry.name.startswith(".") and "cache" in entry.name.lower()):
        return True
    # the Cache Directory Tagging convention, which vite and vitest follow
    return entry.is_dir(follow_symlinks=False) and os.path.isfile(os.path.join(entry.path, "CACHEDIR.TAG"))


def cargo_target(repo_root: Path, env: Mapping[str, str]) -> Path:
    """The build folder the worktrees of `repo_root` share, in the server's cache (XDG)."""
    digest = hashlib.sha256(str(repo_root.resolve()).encode()).hexdigest()[:16]
    return cache_dir_of(env) / "cargo-target" / f"{repo_root.name[:40]}-{digest}"


_SHARED_CONFIG_HEAD = "# parallel-work-manager: the build folder the worktrees of one repository share\n"


def share_cargo_target(worktree_parent: Path, repo_root: Path, env: Mapping[str, str]) -> None:
    """Point cargo runs under `worktree_parent` at the repository's shared build folder."""
    config = worktree_parent / ".cargo" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    # a TOML basic string: JSON's escaping of a path is valid there
    config.write_text(f"{_SHARED_CONFIG_HEAD}[build]\ntarget-dir = {json.dumps(str(cargo_target(repo_root, env)))}\n",
                      encoding="utf-8")


def shared_cargo_target(folder: Path, env: Mapping[str, str]) -> tuple[Path, Path] | None:
    """The worktree holding `folder` whose parent `share_cargo_target` furnished, and the build
    folder cargo uses there (`CARGO_TARGET_DIR` when set, as cargo reads it); None for a folder in
    no such worktree (the user's own checkout)."""
    for tree in (folder, *folder.parents):
        try:
            text = (tree.parent / ".cargo" / "config.toml").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not text.startswith(_SHARED_CONFIG_HEAD):
            continue
        try:
            named = str(tomllib.loads(text)["build"]["target-dir"])
        except (tomllib.TOMLDecodeError, KeyError, TypeError):
            return None
        return tree, folder / env["CARGO_TARGET_DIR"] if env.get("CARGO_TARGET_DIR") else Path(named)
    return None


# (the project's file that names the tool, text it must hold, the tool, arguments printing the environment's folder)
_OUTSIDE_ENV_TOOLS = (
    ("poetry.lock", "", "poetry", ("env", "info", "--path")),
    ("Pipfile.lock", "", "pipenv", ("--venv",)),
    ("Pipfile", "", "pipenv", ("--venv",)),
    ("hatch.toml", "", "hatch", ("env", "find")),
    ("pyproject.toml", "[tool.hatch.envs", "hatch", ("env", "find")),
)
_OUTSIDE_ENV_TIMEOUT_S = 30.0
_OUTSIDE_NONE_S = 60.0  # "no environment yet" is asked again after this long (the user may just have made one)
_OUTSIDE: dict[tuple[str, int], tuple[Path | None, float]] = {}  # (checkout, file's mtime) -> (environment, when)


async def outside_env(checkout: Path, env: Mapping[str, str]) -> Path | None:
    """The environment a Poetry, Pipenv, Hatch or conda project keeps outside `checkout`: as its
    own tool names it (run in the checkout as an argument list), or, for conda, as
    `environment.yml` names it; None when the project has one inside, or none is found."""
    if any((checkout / folder / "bin" / "python").exists() for folder in (".venv", "venv")):
        return None
    for marker, holds, tool, args in _OUTSIDE_ENV_TOOLS:
        lock = checkout / marker
        if not lock.is_file() or (holds and holds not in lock.read_text(encoding="utf-8", errors="replace")):
            continue
        key = (str(checkout), lock.stat().st_mtime_ns)
        now = time.monotonic()
        found, when = _OUTSIDE.get(key, (None, -_OUTSIDE_NONE_S))
        if found is None and now - when >= _OUTSIDE_NONE_S:
            found = await _ask(tool, args, checkout, env)
            _OUTSIDE[key] = (found, now)
        if found is not None:
            return found
        break
    return await asyncio.to_thread(conda_env, checkout, env)


_CONDA_FILES = ("environment.yml", "environment.yaml")
# where conda, Mamba and their installers put environments made by name, below the home folder
_CONDA_HOMES = ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba", ".conda")
_YAML_KEY = re.compile(r"^(name|prefix)\s*:\s*(.+?)\s*(?:#.*)?$", re.MULTILINE)


def conda_env(checkout: Path, env: Mapping[str, str]) -> Path | None:
    """The conda environment `checkout`'s `environment.yml` names (its `prefix:`, else its `name:`
    looked up among the environments conda lists and its usual `envs/` folders), when it exists."""
    for file in _CONDA_FILES:
        spec = checkout / file
        if spec.is_file():
            keys = {k: v.strip("'\"") for k, v in _YAML_KEY.findall(spec.read_text(encoding="utf-8", errors="replace"))}
            break
    else:
        return None
    home = Path(env.get("HOME") or Path.home())
    candidates: list[Path] = []
    if keys.get("prefix", "").startswith(("/", "~")):
        candidates.append(Path(keys["prefix"]).expanduser() if keys["prefix"].startswith("~")
                          else Path(keys["prefix"]))
    name = keys.get("name", "")
    if name and "/" not in name:
        listed = home / ".conda" / "environments.txt"
        if listed.is_file():
            lines = listed.read_text(encoding="utf-8", errors="replace").splitlines()
            candidates += [Path(line.strip()) for line in lines if Path(line.strip()).name == name]
        roots = [Path(p) for var in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS")
                 for p in env.get(var, "").split(os.pathsep) if p]
        roots += [Path(env[var]) / "envs" for var in ("MAMBA_ROOT_PREFIX", "CONDA_ROOT") if env.get(var)]
        roots += [home / folder / "envs" for folder in _CONDA_HOMES] + [Path("/opt/conda/envs")]
        candidates += [root / name for root in roots]
    for prefix in candidates:
        if prefix.is_absolute() and os.access(prefix / "bin" / "python", os.X_OK):
            return prefix
    return None


async def _ask(tool: str, args: tuple[str, ...], checkout: Path, env: Mapping[str, str]) -> Path | None:
    # pipx and Poetry's own installer put the command in ~/.local/bin, which a desktop client's
    # PATH often lacks
    home_bin = Path(env.get("HOME") or Path.home()) / ".local" / "bin"
    exe = shutil.which(tool, path=os.pathsep.join([env.get("PATH", os.defpath), str(home_bin)]))
    if exe is None:
        return None
    deadline = asyncio.get_running_loop().time() + _OUTSIDE_ENV_TIMEOUT_S
    proc = await run_process([exe, *args], cwd=checkout, env=child_env(env), deadline=deadline)
    lines = proc.stdout.strip().splitlines() if proc.exit_code == 0 else []
    found = Path(lines[-1].strip()) if lines else None
    return found if found is not None and found.is_absolute() and (found / "bin" / "python").exists() else None
