"""Lint findings the change introduced, as SWE-agent does: lint the HEAD version of the changed
files and their working version, and keep only the findings whose (file, code, message) are new.

The HEAD versions are exported with gitpython into a temporary tree that mirrors their paths,
next to a copy of the linter's configuration files, so both runs use the same rules. The linter
itself (its command line and its output parser) is given by the caller (`ruff_lint.py`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from server.validation.checks_base import PlannedCheck, RunContext, finish
from server.validation.gitfacts import open_repo
from server.validation.model import CheckResult, Diagnostic
from server.validation.procs import run_process

__all__ = ["export_head_versions", "lint_new_only", "new_findings"]

ArgvFor = Callable[[list[str]], list[str]]  # file arguments -> the linter's command line
Parse = Callable[[str, Path, Path], list[Diagnostic] | None]  # (stdout, base, workspace) -> findings


def export_head_versions(
    repo_root: Path, files: list[Path], dest: Path, config_files: Sequence[str] = ()
) -> list[Path]:
    """Blocking: write each file's HEAD content under `dest` (same path relative to the repo),
    with the working copy of every config file named `config_files` on the way up. Returns the
    exported files (files new since HEAD are left out)."""
    repo = open_repo(repo_root)
    if repo is None:
        return []
    exported: list[Path] = []
    config_dirs: set[Path] = set()
    try:
        tree = repo.head.commit.tree
        for path in files:
            rel = path.relative_to(repo_root)
            config_dirs.update(d for d in (path.parent, *path.parent.parents) if repo_root in (d, *d.parents))
            try:
                blob = tree / rel.as_posix()
            except KeyError:
                continue
            if blob.type != "blob":
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob.data_stream.read())
            exported.append(target)
    finally:
        repo.close()
    for directory in config_dirs:
        for name in config_files:
            source = directory / name
            if source.is_file():
                target = dest / source.relative_to(repo_root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return exported


def _key(d: Diagnostic) -> tuple[str | None, str | None, str]:
    return (d.file, d.code, d.message)


def new_findings(before: list[Diagnostic], after: list[Diagnostic]) -> list[Diagnostic]:
    """The findings of `after` not present in `before`, counting repeats (a multiset difference)."""
    budget = Counter(_key(d) for d in before)
    fresh = []
    for diag in after:
        if budget[_key(diag)] > 0:
            budget[_key(diag)] -= 1
        else:
            fresh.append(diag)
    return fresh


async def lint_new_only(
    check: PlannedCheck,
    ctx: RunContext,
    files: list[Path],
    *,
    argv_for: ArgvFor,
    parse: Parse,
    config_files: Sequence[str] = (),
    stdout_cap: int = 16 * 1024 * 1024,
) -> CheckResult:
    """Lint HEAD's and the working versions of `files`; report only the new findings."""
    assert ctx.git is not None
    repo_root = ctx.git.repo_root
    project = check.project
    base_root = ctx.scratch / f"head-{abs(hash(project.root))}"
    exported = await asyncio.to_thread(export_head_versions, repo_root, files, base_root, config_files)
    base_cwd = base_root / project.root.relative_to(repo_root)
    base_cwd.mkdir(parents=True, exist_ok=True)

    after_argv = argv_for([p.relative_to(project.root).as_posix() for p in files])
    runs = [run_process(after_argv, cwd=project.root, env=ctx.env, deadline=ctx.deadline, stdout_cap=stdout_cap)]
    if exported:
        before_argv = argv_for([p.relative_to(base_cwd).as_posix() for p in exported])
        runs.append(run_process(before_argv, cwd=base_cwd, env=ctx.env, deadline=ctx.deadline, stdout_cap=stdout_cap))
    procs = await asyncio.gather(*runs)
    after_proc = procs[0]
    # Both runs report paths relative to the repository, so their keys line up.
    after = parse(after_proc.stdout, project.root, repo_root)
    before = parse(procs[1].stdout, base_cwd, base_root) if exported else []
    if after is None or before is None:
        if any(p.timed_out for p in procs):
            return finish(check, next(p for p in procs if p.timed_out), [])
        return finish(check, after_proc, [], status="error")
    fresh = new_findings(before, after)
    # Report files relative to the workspace like every other check.
    prefix = ctx.workspace.relative_to(repo_root) if ctx.workspace != repo_root else None
    shown = [_relocate(d, prefix) for d in fresh]
    result = finish(check, after_proc, shown, failed=bool(shown), parsed_stdout=True)
    if any(p.timed_out for p in procs):
        result.status = "timed_out"
    result.output_tail = (
        f"{len(after)} findings in {len(files)} changed files, {len(after) - len(fresh)} already at HEAD, "
        f"{len(fresh)} new"
    )
    return result


def _relocate(diag: Diagnostic, prefix: Path | None) -> Diagnostic:
    if prefix is None or diag.file is None:
        return diag
    path = Path(diag.file)
    try:
        rel = path.relative_to(prefix).as_posix()
    except ValueError:
        return diag
    return Diagnostic(
        message=diag.message, file=rel, line=diag.line, column=diag.column, severity=diag.severity, code=diag.code
    )
