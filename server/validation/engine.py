"""The validation engine: find the projects under a workspace, plan each one's checks, run them
concurrently under one shared deadline (reusing cached results for unchanged inputs), and
gather a bounded `ValidationReport`.

    validate_path(workspace, ValidationOptions(...), base_env=settings.env, cache=ResultCache())

A `ValidationListener` hears the plan and each check as it finishes (`runs.py` uses it to answer
"what finished so far" while a long validation goes on). The workspace must already be confined (`roots.confine_path`) or be a directory the server
created itself (a temporary worktree).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from server.validation.cache import ResultCache, environment_digest, tool_identity
from server.validation.checks_base import PlannedCheck, RunContext
from server.validation.detect import Project, detect_projects
from server.validation.gitfacts import GitSnapshot, read_git_snapshot
from server.validation.installed import outside_env
from server.validation.languages import LANGUAGES
from server.validation.leftovers import temp_dir
from server.validation.model import (
    ALL_KINDS,
    CheckKind,
    CheckResult,
    LintScope,
    ProjectInfo,
    ValidationReport,
    overall_status,
)
from server.validation.procs import child_env

__all__ = ["ValidationListener", "ValidationOptions", "validate_path"]

_PLANNERS = {language.name: language.plan for language in LANGUAGES}


@dataclass(frozen=True)
class ValidationOptions:
    checks: tuple[CheckKind, ...] = ALL_KINDS
    changed_only: bool = False
    lint_scope: LintScope = "all"
    timeout_s: float = 120.0
    max_diagnostics: int = 50  # per check; the rest are counted in `diagnostics_dropped`
    use_cache: bool = True
    max_parallel: int | None = None  # default: the number of CPUs, at least 2
    # The checkout the validated folder stands for (a worktree's origin; None: the folder itself):
    # where a Poetry, Pipenv, Hatch or conda project's environment is looked up (`installed.outside_env`).
    source: Path | None = None


def path_hint(env: Mapping[str, str]) -> str:
    """Where a missing tool was looked for, and the usual reason it was not found."""
    return (f"tools are looked for in the project, then on the server's PATH ({env.get('PATH', '')}); a desktop "
            "client does not pass your shell's PATH: set \"PATH\" in the server's \"env\" in its config")


class ValidationListener(Protocol):
    def checks_planned(self, projects: list[ProjectInfo], checks: list[tuple[str, str]]) -> None:
        """The projects found and every check that will report, as (name, project)."""

    def check_finished(self, result: CheckResult) -> None:
        """One check's final result (already capped), as soon as it is known."""


def _cap(result: CheckResult, limit: int) -> CheckResult:
    if len(result.diagnostics) > limit:
        result.diagnostics_dropped += len(result.diagnostics) - limit
        result.diagnostics = result.diagnostics[:limit]
    return result


async def _run_one(
    check: PlannedCheck, ctx: RunContext, gate: asyncio.Semaphore, cache: ResultCache | None, key: str | None
) -> CheckResult:
    if check.skipped_reason is not None or check.run is None:
        return check.blank("skipped", skipped_reason=check.skipped_reason or "not applicable")
    if cache is not None and key is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    loop = asyncio.get_running_loop()
    async with gate:
        remaining = ctx.deadline - loop.time()
        if remaining <= 0:
            return check.blank("timed_out", output_tail="the time limit ran out before this check could start")
        started = time.monotonic()
        try:
            # In-process checks cannot be killed, so they are also bounded here.
            result = await asyncio.wait_for(check.run(ctx), remaining + 5.0)
        except TimeoutError:
            return check.blank("timed_out", duration_s=round(time.monotonic() - started, 3))
        except (FileNotFoundError, PermissionError) as exc:
            return check.blank("skipped", skipped_reason=f"cannot start {check.command[:1]}: {exc.strerror}")
        except OSError as exc:
            return check.blank("error", output_tail=f"{type(exc).__name__}: {exc}")
        if not result.duration_s:
            result.duration_s = round(time.monotonic() - started, 3)
    # A check found skipped only when it ran (a rustup shim without a toolchain) is not cached:
    # installing the tool changes nothing the key covers.
    if cache is not None and key is not None and result.status != "skipped":
        cache.put(key, result)
    return result


async def _keys(
    checks: list[PlannedCheck], projects: list[Project], cache: ResultCache, env: Mapping[str, str]
) -> list[str | None]:
    # One fingerprint per project root, shared by every language and check rooted there.
    files_by_root: dict[Path, list[Path]] = {}
    for project in projects:
        files_by_root.setdefault(project.root, project.files)
    roots = list(files_by_root)
    prints = await asyncio.gather(
        *(asyncio.to_thread(cache.fingerprint, root, files_by_root[root]) for root in roots)
    )
    by_root = dict(zip(roots, prints, strict=True))
    env_digest = environment_digest(env)
    keys: list[str | None] = []
    for check in checks:
        if not check.cacheable or check.run is None:
            keys.append(None)
            continue
        keys.append(
            cache.key(
                check.name, check.kind, check.project.language, check.project.rel, by_root[check.project.root],
                tool_identity(check.tool_ids), "\0".join(check.command), "\0".join(check.cache_args), env_digest,
            )
        )
    return keys


def _checkout_root(source: Path | None, workspace: Path, snapshot: GitSnapshot | None) -> Path | None:
    """The root of the repository `workspace` is a worktree of: `source` (the checkout's folder the
    workspace stands for) less the workspace's path in its own repository; None when the workspace
    is that folder itself or the two do not match."""
    if source is None or snapshot is None:
        return None
    source = source.resolve()
    inside = workspace.relative_to(snapshot.repo_root).parts if snapshot.repo_root in (workspace, *workspace.parents) else None
    if source == workspace or inside is None or (inside and source.parts[-len(inside):] != inside):
        return None
    return Path(*source.parts[: len(source.parts) - len(inside)])


async def validate_path(
    workspace: Path,
    options: ValidationOptions,
    *,
    base_env: Mapping[str, str],
    cache: ResultCache | None = None,
    listener: ValidationListener | None = None,
) -> ValidationReport:
    """Validate every project under `workspace` (an existing, already confined directory)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = loop.time() + options.timeout_s
    workspace = await asyncio.to_thread(workspace.resolve)
    detection, snapshot = await asyncio.gather(
        asyncio.to_thread(detect_projects, workspace, LANGUAGES), asyncio.to_thread(read_git_snapshot, workspace)
    )
    notes: list[str] = []
    if detection.truncated:
        notes.append(f"stopped listing files after {len(detection.files)}; some projects may be missing")
    git_changed = {p.resolve() for p in (*snapshot.changed, *snapshot.untracked)} if snapshot else None
    changed: set[Path] | None = None
    if options.changed_only:
        if git_changed is None:
            notes.append("changed_only ignored: the workspace is not inside a git repository")
        else:
            changed = git_changed
    if options.lint_scope == "new" and (snapshot is None or snapshot.head is None):
        notes.append("lint_scope 'new' needs a git repository with a commit; all lint findings are reported")
    kinds = set(options.checks)
    env = child_env(base_env)

    with temp_dir("pwm-validate-") as scratch:
        scratch_dir = await asyncio.to_thread(scratch.resolve)
        ctx = RunContext(
            python_env=await outside_env(options.source or workspace, base_env),
            workspace=workspace,
            env=env,
            deadline=deadline,
            scratch=scratch_dir,
            changed=changed,
            lint_scope=options.lint_scope,
            git=snapshot,
            git_changed=git_changed,
            notes=notes,
            checkout=await asyncio.to_thread(_checkout_root, options.source, workspace, snapshot),
        )
        planned: list[PlannedCheck] = []
        for project in detection.projects:
            planned.extend(_PLANNERS[project.language](project, ctx, kinds))
        use_cache = cache if options.use_cache else None
        keys = await _keys(planned, detection.projects, use_cache, env) if use_cache else [None] * len(planned)
        gate = asyncio.Semaphore(options.max_parallel or max(2, os.cpu_count() or 2))
        if listener is not None:
            listener.checks_planned([p.info() for p in detection.projects], [(c.name, c.project.rel) for c in planned])

        async def one(check: PlannedCheck, key: str | None) -> CheckResult:
            result = _cap(await _run_one(check, ctx, gate, use_cache, key), options.max_diagnostics)
            if listener is not None:
                listener.check_finished(result)
            return result

        results = await asyncio.gather(*(one(check, key) for check, key in zip(planned, keys, strict=True)))
    if not detection.projects:
        names = ", ".join(language.name for language in LANGUAGES)
        notes.append(f"no project of a known language ({names}) found under the workspace")
    if any(r.status == "skipped" and "not installed" in (r.skipped_reason or "") for r in results):
        notes.append(path_hint(env))
    if results and all(r.status == "skipped" for r in results):
        notes.append("no check ran (each was skipped; see its reason): passed here means nothing failed, "
                     "not that anything was checked")
    status = overall_status(results)
    return ValidationReport(
        workspace=str(workspace),
        passed=status == "passed",
        status=status,
        projects=[p.info() for p in detection.projects],
        checks=results,
        git=snapshot.facts if snapshot else None,
        duration_s=round(time.monotonic() - started, 3),
        notes=notes,
    )
