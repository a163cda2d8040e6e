"""The server's own CPU per MCP tool call over stdio, read from the server process's /proc stat.

A real MCP client spawns `python -m server serve` (as bench_vs_litellm's "our MCP stdio end to
end" row does) against one loopback provider, and per round makes N calls of each kind, reading
the server process's user+system CPU before and after: CPU time, unlike latency, barely moves
with the machine's load. The kinds:

- `prompts/list`: the SDK's own per-request work over stdio (the baseline, measured in the same run);
- `tools/list`: the SDK building and encoding every tool's schemas (what a client asks once);
- status: `get_parallel_group_status` of a finished one-task group (the tool path, no engine);
- submit+wait: `submit_parallel_tasks` of one task with `wait_seconds` (the bench row's request:
  plan, store, one streamed model call, the status after the wait).

Printed per kind: CPU ms per call, min and median over rounds, and its ratio to `prompts/list`.

    python bench/bench_call_cpu.py [--calls 200] [--rounds 5] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from bench_makespan import external_loopback  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from tests.scheduler.overlay import loop_env  # noqa: E402

WARMUP = 20


def _server_pid() -> int:
    """The `server serve` child of this process (the SDK's stdio client does not expose it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"serve" in cmdline:
            return int(entry)
    raise RuntimeError("no server child process")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = loop_env(Path(tmp), url + "/v1", PWM_LOG_LEVEL="WARNING")
        params = StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env, cwd=str(REPO))
        async with Client(params, read_timeout_seconds=60) as client:

            async def submit(index: int) -> str:
                result = await client.call_tool("submit_parallel_tasks", {"wait_seconds": 30, "tasks": [
                    {"agent_type": "tcoder_speed", "task_description": f"Write function f{index}"}]})
                data = result.structured_content
                if result.is_error or data is None or data["group_status"]["status"] != "succeeded":
                    raise RuntimeError(f"submit failed: {result.content}")
                return str(data["group_id"])

            finished = await submit(-1)

            async def status(_: int) -> None:
                result = await client.call_tool("get_parallel_group_status", {"group_id": finished})
                if result.is_error or result.structured_content is None:
                    raise RuntimeError(f"status failed: {result.content}")

            async def prompts_list(_: int) -> None:
                await client.list_prompts()

            async def tools_list(_: int) -> None:
                await client.list_tools()

            kinds: dict[str, Callable[[int], Awaitable[object]]] = {
                "prompts/list (baseline)": prompts_list, "tools/list": tools_list, "status of a finished group": status,
                "submit one task + wait": submit,
            }
            for one in kinds.values():
                for index in range(WARMUP):
                    await one(index)
            pid = _server_pid()
            out: dict[str, list[float]] = {name: [] for name in kinds}
            for _ in range(rounds):
                for name, one in kinds.items():
                    before = _cpu_s(pid)
                    for index in range(calls):
                        await one(index)
                    out[name].append((_cpu_s(pid) - before) * 1000 / calls)
            return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.02, help="the provider's latency, seconds")
    args = parser.parse_args()
    start_load = os.getloadavg()[0]
    with external_loopback("--latency", str(args.latency)) as url:
        figures = asyncio.run(run(url, args.calls, args.rounds))
    print(f"server CPU per call over stdio, ms (min/median of {args.rounds} rounds of {args.calls} calls); "
          f"load average {start_load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    base = statistics.median(figures["prompts/list (baseline)"])
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"| {name} | {min(values):.2f} / {median:.2f} | {median / base:.1f}x prompts/list |")


if __name__ == "__main__":
    main()
