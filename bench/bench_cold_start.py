"""Cold start: from spawning `parallel-work-manager serve` (stdio) to its first `tools/list` answer.

Baseline, measured in the same run and interleaved with it: spawning the same interpreter to
run a bare `import mcp.server.mcpserver` and exit, which no server built on the SDK can beat.
Prints min and median of each over several runs and their ratios (target: <= 1.3x and <= 1 s).
Also the CPU time each process spent up to that point (user + system; for the server, read
from /proc when its `tools/list` answer arrives, at clock-tick resolution): on a shared,
loaded machine it moves much less than wall time.

    python bench/bench_cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def _children() -> set[int]:
    out: set[int] = set()
    for thread in Path(f"/proc/{os.getpid()}/task").iterdir():
        out |= {int(p) for p in (thread / "children").read_text().split()}
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_start(command: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds from spawn to the first tools/list answer, the server's CPU seconds by then)."""
    before = _children()
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=command, args=["serve"], env=env)) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
        (pid,) = _children() - before
        cpu = _cpu_seconds(pid)
    assert tools.tools, "the server listed no tools"
    return elapsed, cpu


def _baseline(env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a bare `import mcp.server.mcpserver` in a new interpreter."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True, env=env)  # noqa: S603
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)


def _fig(values: list[float]) -> str:
    return f"min {min(values) * 1000:.0f} ms, median {statistics.median(values) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    command = shutil.which("parallel-work-manager", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("install the package first: pip install -e .")
    starts: list[tuple[float, float]] = []
    baselines: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "HOME": tmp,
            "XDG_DATA_HOME": f"{tmp}/data",
            "XDG_CONFIG_HOME": f"{tmp}/config",
            "PWM_DB": f"{tmp}/pwm.db",
            "PATH": os.environ.get("PATH", ""),
        }
        _baseline(env)  # one unmeasured run of each fills the OS page cache
        asyncio.run(_one_start(command, env))
        for _ in range(args.runs):  # interleaved, so load on a shared machine hits both alike
            baselines.append(_baseline(env))
            starts.append(asyncio.run(_one_start(command, env)))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.runs} runs")
    for index, what in ((0, "wall"), (1, "CPU ")):
        ours = [s[index] for s in starts]
        base = [b[index] for b in baselines]
        print(f"{what} serve (stdio) spawn -> first tools/list: {_fig(ours)}")
        print(f"{what} baseline `import mcp.server.mcpserver`:    {_fig(base)}")
        print(f"{what} ratio: min {min(ours) / min(base):.2f}x, median {statistics.median(ours) / statistics.median(base):.2f}x"
              + (" (target <= 1.3x, and <= 1 s)" if index == 0 else ""))


if __name__ == "__main__":
    main()
