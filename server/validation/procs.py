"""Run one check's command safely: argument list, allowlisted environment, capped output,
and a hard time limit that kills every process the command started.

    run_process(argv, cwd=..., env=child_env(base), deadline=...) -> ProcResult

On Linux the command runs under `reaper.py`, a small supervisor that is a child subreaper: a
process still running at the deadline gets SIGTERM, then SIGKILL after a short grace, and so do
all its descendants, including those that left its session (`setsid`, double-forked daemons).
After a normal exit the leftovers are killed too, so a check never leaves processes behind.
Elsewhere the command gets its own process group and the group is killed. Whatever the command
printed until then is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_STREAM_CAP",
    "ENV_ALLOWLIST",
    "ProcResult",
    "child_env",
    "run_process",
]

DEFAULT_STREAM_CAP = 64 * 1024
_KILL_GRACE_S = 1.0
_DRAIN_AFTER_EXIT_S = 2.0
# How long the supervisor may take to sweep after SIGTERM before its whole group is SIGKILLed.
_SWEEP_BOUND_S = 10.0
_REAPER = Path(__file__).with_name("reaper.py")
_USE_REAPER = sys.platform == "linux" and _REAPER.is_file()

# Only these names (and LC_*) reach a check's process. Proxy and registry settings are left out
# on purpose: they routinely embed credentials (https://user:token@proxy, npm _authToken).
ENV_ALLOWLIST = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TMP", "TEMP",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR",
        "GOPATH", "GOCACHE", "GOMODCACHE", "GOROOT", "GOFLAGS", "GOTOOLCHAIN", "GOPRIVATE",
        "NODE_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_VERSION",
    }
)
_SECRET_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")

# Set for every check: no colour codes in parsed output, no bytecode written into the user's
# tree, non-interactive test runners.
_FORCED = {
    "NO_COLOR": "1",
    "CI": "true",
    "PYTHONDONTWRITEBYTECODE": "1",
    "CARGO_TERM_COLOR": "never",
    "TERM": "dumb",
}


def child_env(base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a check's process gets: allowlisted names from `base`, minus anything
    that looks like a secret, plus our fixed settings and `extra`."""
    env: dict[str, str] = {}
    for name, value in base.items():
        if name not in ENV_ALLOWLIST and not name.startswith("LC_"):
            continue
        if any(hint in name.upper() for hint in _SECRET_HINTS):
            continue
        env[name] = value
    env.setdefault("PATH", os.defpath)
    env.update(_FORCED)
    if extra:
        env.update(extra)
    return env


@dataclass
class ProcResult:
    argv: list[str]
    exit_code: int | None  # None when it was killed at its deadline
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    duration_s: float

    @property
    def truncated(self) -> bool:
        return self.stdout_truncated or self.stderr_truncated


class _Capped:
    """Keep the last `cap` bytes of a stream (`head`: the first ones, for a listing read from its top)."""

    def __init__(self, cap: int, head: bool = False) -> None:
        self.cap = cap
        self.head = head
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        if self.head:
            room = max(0, self.cap - len(self.data))
            self.data += chunk[:room]
            self.dropped += len(chunk) - min(room, len(chunk))
            return
        self.data += chunk
        if len(self.data) > self.cap:
            excess = len(self.data) - self.cap
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


async def _pump(stream: asyncio.StreamReader | None, sink: _Capped) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        sink.add(chunk)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal the group; False once it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a pid reused by someone else's process
        return False
    return True


async def _kill_tree(proc: asyncio.subprocess.Process, supervised: bool) -> None:
    """SIGTERM, a grace, then SIGKILL: through the supervisor when there is one, else the group."""
    if supervised:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), _KILL_GRACE_S + _SWEEP_BOUND_S)
    elif _signal_group(proc.pid, signal.SIGTERM):
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), _KILL_GRACE_S)
    _signal_group(proc.pid, signal.SIGKILL)


def _check_executable(program: str, env: Mapping[str, str]) -> None:
    """Raise as exec would when `program` cannot be started (the supervisor starts it later)."""
    if os.sep in program:
        if not os.path.exists(program):
            raise FileNotFoundError(2, "No such file or directory", program)
        if os.path.isdir(program) or not os.access(program, os.X_OK):
            raise PermissionError(13, "Permission denied", program)
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise FileNotFoundError(2, "No such file or directory", program)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    deadline: float,
    stdin: bytes | None = None,
    stdout_cap: int = DEFAULT_STREAM_CAP,
    stderr_cap: int = DEFAULT_STREAM_CAP,
    stdout_head: bool = False,
    supervise: bool = True,
) -> ProcResult:
    """Run `argv` (never through a shell) until it exits or `deadline` (loop time) passes.

    Each stream keeps its last `*_cap` bytes (a log's end says what went wrong); `stdout_head`
    keeps the first ones instead (a listing read from its top). `supervise=False` skips the
    subreaper supervisor (only the process group is killed then): for benchmarks measuring what
    the supervisor costs.

    Raises:
        FileNotFoundError / PermissionError: the executable cannot be started.
    """
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    command = list(argv)
    supervised = supervise and _USE_REAPER
    if supervised:
        program = command[0]
        if os.sep in program and not os.path.isabs(program):
            program = os.path.join(cwd, program)
        _check_executable(program, env)
        command = [sys.executable, "-I", "-S", str(_REAPER), str(_KILL_GRACE_S), *command]
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=str(cwd),
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, so the whole tree can be killed
    )
    out, err = _Capped(stdout_cap, head=stdout_head), _Capped(stderr_cap)
    pumps = [asyncio.ensure_future(_pump(proc.stdout, out)), asyncio.ensure_future(_pump(proc.stderr, err))]
    timed_out = False
    try:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            timed_out = True
            await _kill_tree(proc, supervised)
        # Sweep what the command left behind in its group (the supervisor has killed the rest;
        # background grandchildren would otherwise outlive the check and hold the pipes open),
        # then drain the pipes.
        _signal_group(proc.pid, signal.SIGKILL)
        await asyncio.wait(pumps, timeout=_DRAIN_AFTER_EXIT_S)
    finally:
        if proc.returncode is None:  # cancelled: still kill everything it started
            with contextlib.suppress(Exception):
                await asyncio.shield(_kill_tree(proc, supervised))
        _signal_group(proc.pid, signal.SIGKILL)
        for pump in pumps:
            pump.cancel()
    return ProcResult(
        argv=list(argv),
        exit_code=None if timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        stdout_truncated=out.dropped > 0,
        stderr_truncated=err.dropped > 0,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )
