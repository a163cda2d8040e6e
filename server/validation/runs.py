"""Validations that outlive one tool call: each runs as a background task under an id, records
each check as it finishes, and can be waited on for a bounded time, again and again.

    runs = ValidationRuns()
    run = runs.start(workspace, options, base_env=settings.env, cache=cache)
    await run.wait(45.0, on_change=report)   # returns when finished or after 45 s
    run.finished, run.done, run.pending(), run.report

A client's tool call gives up after about a minute whatever the server does, so a long
validation answers with what finished so far and its id; the caller waits on it again with the
id. The same request (workspace and options) while one is still running joins that run.
Finished runs are kept for the last `keep` requests; `aclose()` cancels the running ones, which
kills their processes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.validation.cache import ResultCache
from server.validation.engine import ValidationOptions, validate_path
from server.validation.model import CheckResult, ProjectInfo, ValidationReport

__all__ = ["ValidationRun", "ValidationRuns"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ValidationRun:
    id: str
    workspace: Path
    options: ValidationOptions
    started: float = field(default_factory=time.monotonic)
    projects: list[ProjectInfo] = field(default_factory=list)
    planned: list[tuple[str, str]] = field(default_factory=list)  # (check name, project)
    done: list[CheckResult] = field(default_factory=list)
    report: ValidationReport | None = None
    failure: str | None = None  # why it ended without a report
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.report is not None or self.failure is not None

    def elapsed_s(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def pending(self) -> list[str]:
        """The checks still to report, as `name (project)`."""
        left = Counter(self.planned) - Counter((c.name, c.project) for c in self.done)
        return [f"{name} ({project})" for (name, project) in self.planned if left[(name, project)] > 0]

    # ValidationListener
    def checks_planned(self, projects: list[ProjectInfo], checks: list[tuple[str, str]]) -> None:
        self.projects, self.planned = projects, checks
        self._notify()

    def check_finished(self, result: CheckResult) -> None:
        self.done.append(result)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(
        self, seconds: float, on_change: Callable[[ValidationRun], Awaitable[None]] | None = None
    ) -> None:
        """Return once the run is finished or `seconds` have passed, calling `on_change` after
        each change meanwhile (the plan, each finished check, the end)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, seconds)
        while not self.finished:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return
            if on_change is not None:
                await on_change(self)


class ValidationRuns:
    """The validations of one server process, by id."""

    def __init__(self, *, keep: int = 32) -> None:
        self._runs: OrderedDict[str, ValidationRun] = OrderedDict()
        self._keep = keep

    def get(self, run_id: str) -> ValidationRun | None:
        return self._runs.get(run_id)

    def start(
        self,
        workspace: Path,
        options: ValidationOptions,
        *,
        base_env: Mapping[str, str],
        cache: ResultCache | None = None,
    ) -> ValidationRun:
        """Start validating `workspace` (already confined) in the background, or join the
        unfinished run of the same request."""
        for run in self._runs.values():
            if not run.finished and run.workspace == workspace and run.options == options:
                return run
        run = ValidationRun(id=f"val_{secrets.token_hex(8)}", workspace=workspace, options=options)
        run.task = asyncio.create_task(self._drive(run, base_env, cache), name=f"validation {run.id}")
        self._runs[run.id] = run
        self._prune()
        return run

    async def _drive(self, run: ValidationRun, base_env: Mapping[str, str], cache: ResultCache | None) -> None:
        try:
            run.report = await validate_path(run.workspace, run.options, base_env=base_env, cache=cache, listener=run)
        except asyncio.CancelledError:
            run.failure = "cancelled: the server stopped before the validation finished"
            raise
        except Exception as exc:  # a bug or an unreadable tree: the waiter gets the reason
            log.exception("validation %s of %s failed", run.id, run.workspace)
            run.failure = f"{type(exc).__name__}: {exc}"
        finally:
            run._notify()

    def _prune(self) -> None:
        finished = [run_id for run_id, run in self._runs.items() if run.finished]
        for run_id in finished[: max(0, len(self._runs) - self._keep)]:
            del self._runs[run_id]

    async def aclose(self) -> None:
        """Cancel every running validation (their processes are killed) and wait for them."""
        tasks = [run.task for run in self._runs.values() if run.task is not None and not run.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
