"""Cold start: from spawning `parallel-work-manager serve` (stdio) to its first `tools/list` answer.

Baseline, measured in the same run: spawning the same interpreter to run `import mcp` and exit,
which no server built on the SDK can beat. Prints p50/max over several runs and the ratio.

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


def _baseline() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    command = shutil.which("parallel-work-manager", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("install the package first: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "HOME": tmp,
            "XDG_DATA_HOME": f"{tmp}/data",
            "XDG_CONFIG_HOME": f"{tmp}/config",
            "PWM_DB": f"{tmp}/pwm.db",
            "PATH": os.environ.get("PATH", ""),
        }
        starts = [asyncio.run(_one_start(command, env)) for _ in range(args.runs)]
    baselines = [_baseline() for _ in range(args.runs)]
    p50 = statistics.median(starts)
    base = statistics.median(baselines)
    print(f"cold start to first tools/list: p50 {p50 * 1000:.0f} ms, max {max(starts) * 1000:.0f} ms "
          f"over {args.runs} runs")
    print(f"baseline (python -c 'import mcp'): p50 {base * 1000:.0f} ms; ratio {p50 / base:.2f}x")


if __name__ == "__main__":
    main()
