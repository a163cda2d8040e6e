"""Selection from async code, within the time a tool call has.

A first index of a large repository can outlast a tool call: clients cut calls at about 60 s,
and on 2 cores a 34,000-file repository took 60-75 s to index. The selection runs in a thread of
its own; past the deadline the caller gets a `WorkspaceError` that says the index is still
being built and to call again, while the thread goes on, so the next call finds the index ready.
A call that finds a selection for the same workspace still running waits for it rather than
queueing a second thread behind the index's lock.

The threads are daemon threads: stopping the server does not wait for an index to finish (a
build is one SQLite transaction, so a cut one leaves the cache as it was and is redone).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from server.context.service import ContextOptions, select_context
from server.context.types import Selection
from server.errors import WorkspaceError

__all__ = ["deadline_after", "select_in_time"]

_lock = threading.Lock()
_running: dict[str, tuple[concurrent.futures.Future[Selection], float]] = {}


def _start(key: str, started: float, work: Callable[[], Selection]) -> concurrent.futures.Future[Selection]:
    future: concurrent.futures.Future[Selection] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever awaits the future
            future.set_exception(exc)
        finally:
            with _lock:
                if _running.get(key, (None, 0.0))[0] is future:
                    del _running[key]

    with _lock:
        _running[key] = (future, started)
    future.set_running_or_notify_cancel()
    threading.Thread(target=run, name="pwm-context", daemon=True).start()
    return future


def deadline_after(seconds: float | None) -> float | None:
    """The event-loop time `seconds` from now (None: no deadline)."""
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


async def _wait(future: concurrent.futures.Future[Selection], deadline: float | None) -> bool:
    """True once `future` is done; False if `deadline` (event-loop time) passes first."""
    if future.done():
        return True
    wrapped = asyncio.wrap_future(future)
    # An answer nobody waits for any more is dropped without a "never retrieved" warning.
    wrapped.add_done_callback(lambda f: f.cancelled() or f.exception())
    timeout = None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())
    try:
        await asyncio.wait_for(asyncio.shield(wrapped), timeout)
    except TimeoutError:
        return False
    return True


async def select_in_time(
    workspace: Path,
    task: str,
    files: Sequence[str],
    budget_tokens: int,
    options: ContextOptions,
    *,
    deadline: float | None,
    at_head: bool = False,
    field_prefix: str = "",
    mode: str = "code",
) -> Selection:
    """`select_context` in a worker thread, answered by `deadline` (event-loop time; None: no limit).

    Raises:
        WorkspaceError: the deadline passed while the workspace was being indexed (it goes on),
            or as `select_context` raises it.
        InputError: as `select_context` raises it.
    """
    key = str(workspace)
    with _lock:
        earlier = _running.get(key)
    if earlier is not None and not await _wait(earlier[0], deadline):
        raise _still_indexing(field_prefix, workspace, earlier[1])
    started = time.monotonic()
    future = _start(key, started, lambda: select_context(workspace, task, list(files), budget_tokens, options,
                                                         at_head=at_head, field_prefix=field_prefix, mode=mode))
    if not await _wait(future, deadline):
        raise _still_indexing(field_prefix, workspace, started)
    return future.result()


def _still_indexing(field_prefix: str, workspace: Path, started: float) -> WorkspaceError:
    took = time.monotonic() - started
    so_far = f"{took:.0f}" if took >= 10 else f"{took:.1f}"
    return WorkspaceError(
        f"{field_prefix}workspace: {str(workspace)!r} is still being indexed ({so_far} s so far: a first index of "
        "a large repository outlasts a tool call); it goes on in the background - call again in a minute, "
        "or leave out `workspace` to route without the code"
    )
