"""Analyse many files in worker processes: one per core, results back in order.

Parsing is most of a first index's cost and runs in Python, so threads would not help. Each
worker is `python -m server.context.analyse_workers`, a child started with an argument list
(never a shell) that imports only this package, reads batches of (path, bytes) as pickles on
its stdin and writes each batch's `Analysed` list as a pickle on its stdout (our own trusted
pipes; the server's stdout is never theirs). Not `multiprocessing`: its spawned children
re-run the parent's main script, and forked ones would copy the server's threads' locks.

Batch k goes to worker k mod n, so each worker's answers arrive in the order the caller wants
them; a feeder thread per worker writes its batches while the caller reads. If a worker cannot
start or dies, the files not yet analysed are analysed in the calling process.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from server.context.analyse import Analysed, analyse

__all__ = ["analyse_in_workers"]

_log = logging.getLogger(__name__)
_BATCH = 16  # files per message
_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the `server` package


def _feed(pipe: IO[bytes], batches: list[list[tuple[str, bytes]]]) -> None:
    try:
        for batch in batches:
            pickle.dump(batch, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.flush()
    except (OSError, ValueError):
        pass  # the worker went away; the caller notices when reading
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def _start(count: int) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = _ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return [subprocess.Popen([sys.executable, "-m", "server.context.analyse_workers"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env) for _ in range(count)]


def analyse_in_workers(items: Sequence[tuple[str, bytes]], count: int) -> Iterator[Analysed]:
    """`analyse` over `items` in `count` worker processes, yielded in order."""
    batches = [list(items[i:i + _BATCH]) for i in range(0, len(items), _BATCH)]
    done = 0
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = _start(min(count, len(batches)))
        for k, proc in enumerate(procs):
            assert proc.stdin is not None
            threading.Thread(target=_feed, args=(proc.stdin, batches[k::len(procs)]), daemon=True,
                             name="context-index-feed").start()
        for k in range(len(batches)):
            out = procs[k % len(procs)].stdout
            assert out is not None
            results: list[Analysed] = pickle.load(out)
            if len(results) != len(batches[k]):
                raise EOFError("a worker answered a batch with the wrong number of files")
            for found in results:
                yield found
                done += 1
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        _log.warning("context index: worker processes failed (%s); analysing in this process", exc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    yield from (analyse(p, d) for p, d in items[done:])


def _serve() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the pipe
    # Parsing allocates millions of objects that die young and hold no cycles: collecting
    # rarely spares about a fifth of a worker's time.
    gc.set_threshold(100_000, 50, 100)
    while True:
        try:
            batch = pickle.load(source)
        except EOFError:
            return
        pickle.dump([analyse(p, d) for p, d in batch], sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


if __name__ == "__main__":
    _serve()
