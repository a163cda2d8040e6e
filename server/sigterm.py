"""SIGTERM stops a server as Ctrl+C does: its work is cancelled and cleaned up, not cut off.

Python's default for SIGTERM ends the process at once: a check under way left its temporary
worktree, its scratch folder and the worktree's registration in the user's repository behind.
uvicorn (the HTTP transport) already turns SIGTERM into an orderly shutdown; on stdio
`stopping_on_sigterm` does: the first SIGTERM cancels the serving task, so the lifespan closes
the engine, whose cancelled tasks remove their worktrees; a later one is ignored (the shutdown
under way is what cleans up). Whatever a shutdown cut short leaves is removed at exit
(`validation.leftovers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

__all__ = ["stopping_on_sigterm"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def stopping_on_sigterm() -> Iterator[None]:
    """Around the awaiting of a server's main task: SIGTERM cancels the task once, and the block
    then ends without error (the cancellation was a request to stop, not a failure)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    asked = False

    def stop() -> None:
        nonlocal asked
        if not asked and task is not None:
            asked = True
            log.info("SIGTERM: stopping the server")
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError, ValueError):  # no signals here (Windows, a thread): as before
        yield
        return
    try:
        yield
    except asyncio.CancelledError:
        if not asked or task is None:
            raise
        task.uncancel()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
