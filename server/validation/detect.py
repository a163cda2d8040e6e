"""Find the projects under a workspace, several per tree, for the languages it is given.

One walk collects every file (skipping VCS, dependency and build-output directories); a
directory holding a language's marker file is a project root, and each source file belongs to
the deepest project root of its language above it. Source files outside any marked root form
an implicit project at the workspace itself (a folder of loose scripts is still checked).

What makes a project of a language (markers, source suffixes, roots covered by an enclosing
one) is the language's own record (`ProjectKind`); `languages.LANGUAGES` lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.validation.model import Language, ProjectInfo

__all__ = ["SKIP_DIRS", "Detection", "Project", "ProjectKind", "detect_projects"]

SKIP_DIRS = frozenset(
    {"node_modules", "venv", "target", "dist", "build", "__pycache__", "site-packages"}
)
DEFAULT_MAX_FILES = 20_000


@dataclass(frozen=True, kw_only=True)
class ProjectKind:
    """What marks a project of one language and which files are its sources."""

    name: Language
    markers: tuple[str, ...]  # a directory holding any of these is a project root
    suffixes: tuple[str, ...]  # source files of this language
    # Given an enclosing root of the same language, True when it already covers a nested root
    # (a Cargo workspace covers its member crates); None: nested roots are projects of their own.
    covers_nested: Callable[[Path], bool] | None = None


@dataclass
class Project:
    language: Language
    root: Path  # absolute, resolved
    rel: str  # relative to the workspace, "." for the workspace itself
    markers: tuple[str, ...]
    sources: list[Path] = field(default_factory=list)  # this language's files it owns
    files: list[Path] = field(default_factory=list)  # every file under its root (fingerprint input)

    def info(self) -> ProjectInfo:
        return ProjectInfo(path=self.rel, language=self.language, markers=self.markers)


@dataclass
class Detection:
    workspace: Path
    projects: list[Project]
    files: list[Path]
    truncated: bool = False


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS


def _walk(workspace: Path, max_files: int) -> tuple[list[Path], bool]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(workspace, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d))
        current = Path(dirpath)
        for name in sorted(filenames):
            path = current / name
            if path.is_symlink():
                # A link may point outside the workspace; only follow those that stay inside.
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    continue
                if workspace not in target.parents or not target.is_file():
                    continue
            files.append(path)
            if len(files) >= max_files:
                return files, True
    return files, False


def _rel(path: Path, workspace: Path) -> str:
    rel = path.relative_to(workspace).as_posix()
    return rel or "."


def detect_projects(
    workspace: Path, kinds: Sequence[ProjectKind], *, max_files: int = DEFAULT_MAX_FILES
) -> Detection:
    """Every project of `kinds` under `workspace` (an absolute, resolved directory), in a stable order."""
    files, truncated = _walk(workspace, max_files)
    names_by_dir: dict[Path, set[str]] = {}
    for path in files:
        names_by_dir.setdefault(path.parent, set()).add(path.name)

    projects: list[Project] = []
    for kind in kinds:
        language = kind.name
        covers = kind.covers_nested
        roots: dict[Path, tuple[str, ...]] = {}
        for directory in sorted(names_by_dir, key=lambda p: (len(p.parts), str(p))):
            found = tuple(m for m in kind.markers if m in names_by_dir[directory])
            if not found:
                continue
            if covers is not None and any(r in directory.parents and covers(r) for r in roots):
                continue
            roots[directory] = found
        by_root: dict[Path, Project] = {
            root: Project(language, root, _rel(root, workspace), found) for root, found in roots.items()
        }
        suffixes = kind.suffixes
        loose: list[Path] = []
        for path in files:
            if not path.name.endswith(suffixes):
                continue
            owner = next((by_root[p] for p in (path.parent, *path.parent.parents) if p in by_root), None)
            if owner is None:
                loose.append(path)
            else:
                owner.sources.append(path)
        if loose and workspace not in by_root:
            implicit = Project(language, workspace, ".", ())
            implicit.sources = loose
            by_root[workspace] = implicit
        for project in by_root.values():
            project.files = [f for f in files if f == project.root or project.root in f.parents]
        projects.extend(sorted(by_root.values(), key=lambda p: p.rel))
    return Detection(workspace=workspace, projects=projects, files=files, truncated=truncated)
