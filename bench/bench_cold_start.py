"""Cold start: from spawning `parallel-work-manager serve` (stdio) to its first `tools/list` answer.

Baseline, measured in the same run and interleaved with it: spawning the same interpreter to
run a bare `import mcp.server.mcpserver` and exit, which no server built on the SDK can beat.
Prints min and median of each over several runs and their ratios (target: <= 1.3x and <= 1 s).

    python bench/bench_cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters


async def _one_start(command: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    async with Client(StdioServerParameters(command=command, args=["serve"], env=env)) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    assert tools.tools, "the server listed no tools"
    return elapsed


def _baseline(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True, env=env)  # noqa: S603
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    command = shutil.which("parallel-work-manager", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("install the package first: pip install -e .")
    starts: list[float] = []
    baselines: list[float] = []
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
    s_min, s_med = min(starts), statistics.median(starts)
    b_min, b_med = min(baselines), statistics.median(baselines)
    print(f"serve (stdio) spawn -> first tools/list: min {s_min * 1000:.0f} ms, median {s_med * 1000:.0f} ms "
          f"over {args.runs} runs")
    print(f"baseline spawn -> `import mcp.server.mcpserver`: min {b_min * 1000:.0f} ms, median {b_med * 1000:.0f} ms")
    print(f"ratio: min {s_min / b_min:.2f}x, median {s_med / b_med:.2f}x (target <= 1.3x, and <= 1 s)")


if __name__ == "__main__":
    main()
