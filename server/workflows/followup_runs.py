"""Follow-ups that outlast one tool call: each runs as a background task of the server, so a model
slower than a client's patience (a local model on a CPU, a reasoning model) still answers.

`continue_task` waits up to the server's tool time limit; past it, the follow-up goes on and the
call answers "running". The same task and message sent again join that run (nothing is sent to
the model twice) and, once it is done, collect its answer; another message for the task while one
is being answered is refused, since a thread takes one turn at a time. A finished run is kept
until it is collected, or for `KEEP_S` after it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from server.workflows.followup import FollowUp

__all__ = ["FollowUpRun", "FollowUpRuns", "KEEP_S"]

KEEP_S = 3600.0


@dataclass
class FollowUpRun:
    task_id: str
    key: str  # the message (and `stronger`) it answers, hashed
    task: asyncio.Task[FollowUp]
    ended_at: float | None = field(default=None)


class FollowUpRuns:
    """The follow-ups of one server process still running or not yet collected, by task."""

    def __init__(self) -> None:
        self._runs: dict[str, FollowUpRun] = {}

    @staticmethod
    def key_of(message: str, stronger: bool) -> str:
        return hashlib.sha256(f"{stronger}\0{message}".encode()).hexdigest()

    def get(self, task_id: str) -> FollowUpRun | None:
        self._prune()
        return self._runs.get(task_id)

    def start(self, task_id: str, key: str, send: Callable[[], Awaitable[FollowUp]]) -> FollowUpRun:
        """The run answering `key` for the task: the one already there, else a new one of `send`.
        The caller checks first that no run of another message is there (`get`)."""
        run = self.get(task_id)
        if run is not None and run.key == key:
            return run

        async def drive() -> FollowUp:
            try:
                return await send()
            finally:
                run_now = self._runs.get(task_id)
                if run_now is not None and run_now.task is asyncio.current_task():
                    run_now.ended_at = time.monotonic()

        made = FollowUpRun(task_id, key, asyncio.create_task(drive(), name=f"follow-up {task_id}"))
        self._runs[task_id] = made
        return made

    def collected(self, run: FollowUpRun) -> None:
        """Its answer reached the caller: forget it."""
        if self._runs.get(run.task_id) is run:
            del self._runs[run.task_id]

    def _prune(self) -> None:
        now = time.monotonic()
        for task_id, run in list(self._runs.items()):
            if run.ended_at is not None and now - run.ended_at > KEEP_S:
                del self._runs[task_id]

    async def aclose(self) -> None:
        """Cancel the follow-ups still running (each settles its call as interrupted) and wait."""
        tasks = [run.task for run in self._runs.values() if not run.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runs.clear()
