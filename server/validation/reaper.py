"""Run one check command under a small supervisor that outlives nothing it started.

    python -I -S reaper.py GRACE_S COMMAND [ARG...]

`procs.run_process` starts this file by path (standard library only, so it starts in a few
milliseconds under `-I -S`). It marks itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`),
so every process the command leaves orphaned — a double-forked daemon, a grandchild that called
`setsid()` — is re-parented to it instead of to init and stays findable as a descendant. Then:

- when the command exits, every descendant still alive gets SIGKILL, and the supervisor exits
  with the command's own status (same exit code, or the same terminating signal);
- on SIGTERM (the check's time limit, or the server died: `PR_SET_PDEATHSIG`), every
  descendant gets SIGTERM, then after GRACE_S seconds SIGKILL.

Killing loops until the supervisor has no child left: a process forked while a sweep was under
way is re-parented to the supervisor when its parent dies and is caught by the next sweep.
Descendants are found from each process's parent in /proc, so this needs no privilege, no
cgroup and no systemd: it works the same as root, as a plain user and in CI containers.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_POLL_S = 0.01


class _Terminate(Exception):
    """Raised by the SIGTERM handler to leave a blocking wait."""


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> list[int]:
    """Every live process below `root`, read from the parent pid in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
            # The command name in parentheses may hold spaces; the parent pid follows the state.
            ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class _Supervisor:
    def __init__(self, command: list[str]) -> None:
        self.me = os.getpid()
        self.command = command
        self.pid = 0
        self.status: int | None = None

    def spawn(self) -> None:
        # The child starts with the default disposition of every signal Python changed.
        self.pid = os.posix_spawnp(
            self.command[0], self.command, os.environ,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGINT),
        )

    def _reaped(self, pid: int, status: int) -> None:
        if pid == self.pid and self.status is None:
            self.status = status

    def wait_command(self) -> None:
        """Block until the command exits, reaping re-parented orphans on the way."""
        while self.status is None:
            pid, status = os.waitpid(-1, 0)
            self._reaped(pid, status)

    def reap(self) -> bool:
        """Reap whatever has exited; False once no child is left at all."""
        try:
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return True
                self._reaped(pid, status)
        except ChildProcessError:
            return False

    def sweep(self, sig: int) -> None:
        """Send `sig` to every descendant until none is left (for SIGKILL) or once (otherwise)."""
        while True:
            _signal_all(descendants(self.me), sig)
            if not self.reap() or sig != signal.SIGKILL:
                return
            time.sleep(_POLL_S)

    def terminate(self, grace_s: float) -> None:
        self.sweep(signal.SIGTERM)
        until = time.monotonic() + grace_s
        while time.monotonic() < until and self.reap():
            time.sleep(_POLL_S)
        self.sweep(signal.SIGKILL)

    def exit_like_command(self) -> None:
        status = self.status if self.status is not None else 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(self.me, sig)
            os._exit(128 + sig)
        os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.stderr.write("usage: reaper.py GRACE_S COMMAND [ARG...]\n")
        os._exit(2)
    grace_s = float(argv[1])
    supervisor = _Supervisor(argv[2:])

    def on_term(_sig: int, _frame: object) -> None:
        raise _Terminate

    signal.signal(signal.SIGTERM, on_term)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    try:
        if os.getppid() != parent:  # the server died before PDEATHSIG was armed
            raise _Terminate
        try:
            supervisor.spawn()
        except OSError as exc:
            sys.stderr.write(f"cannot start {argv[2]}: {exc.strerror}\n")
            os._exit(127)
        supervisor.wait_command()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleaning up now; a late SIGTERM changes nothing
        supervisor.sweep(signal.SIGKILL)
    except _Terminate:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.terminate(grace_s)
        os._exit(128 + signal.SIGTERM)
    supervisor.exit_like_command()


if __name__ == "__main__":
    main(sys.argv)
