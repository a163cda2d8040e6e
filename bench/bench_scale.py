"""Flat from 100 to 10,000 tasks through MCP stdio: throughput, server memory and reply sizes.

Each size runs in a fresh server process, spawned over stdio as an MCP client launches it (the
`parallel-work-manager serve` console script), its providers pointed at the loopback provider
(its own process, answering at once unless `--latency`). The client submits N independent tasks
with `submit_parallel_tasks` at `--concurrency` calls in flight, follows the group with
`get_parallel_group_status` (`wait_seconds`, at most `--poll-hz` calls a second, as a client
would) until it finishes, then times the default status reply a few times. Reported per size:

- tasks/s: N over the time from the submit call to the group's end as the server stored it;
- the server's peak RSS (VmHWM of its /proc status) and its RSS at the end;
- the submit reply and the status reply: bytes of the JSON-RPC result, and time as the client
  sees it (request to answer, over stdio);
- the server's CPU time (user + system, all threads) from the submit call to the group's end, per
  task: on this shared machine wall-clock rates move with other load, CPU per task much less,
  so `cpu_ms_per_task` is the figure that shows whether per-task work grows with the group;
- the TCP connections the provider accepted during the run (a pool that keeps its connections
  opens about `--concurrency` of them).

Targets (issue 12): tasks/s at 10k >= 0.9x of 1k in the same run; RSS at 10k <= 200 MB; status
reply <= 100 KB and <= 100 ms at 10k; the submit reply <= 100 KB too.

    python bench/bench_scale.py [--sizes 100,1000,10000] [--runs 3] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from bench_makespan import external_loopback  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp_types import CallToolResult  # noqa: E402

from tests.scheduler.overlay import loop_env  # noqa: E402

STATUS_SAMPLES = 5


def _server_pid(before: set[int]) -> int:
    """The server process: the child of this process that the stdio client spawned."""
    spawned = _children() - before
    if len(spawned) != 1:
        raise RuntimeError(f"expected one server process, found {sorted(spawned)}")
    return spawned.pop()


def _children() -> set[int]:
    out: set[int] = set()
    for thread in Path(f"/proc/{os.getpid()}/task").iterdir():
        out |= {int(p) for p in (thread / "children").read_text().split()}
    return out


def _memory_mb(pid: int) -> tuple[float, float]:
    """(peak RSS, current RSS) of `pid`, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, all its threads (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _provider_connections(url: str) -> int:
    """TCP connections the loopback provider has accepted since it started."""
    with urllib.request.urlopen(f"{url}/_loopback/stats", timeout=10) as answer:  # noqa: S310 - loopback
        return int(json.load(answer)["connections"])


def _reply_bytes(result: CallToolResult) -> int:
    """Size of the result as it travels in the JSON-RPC answer."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[CallToolResult, float]:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {' '.join(getattr(c, 'text', '') for c in result.content)}")
    assert result.structured_content is not None
    return result, elapsed


async def one_size(size: int, url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = shutil.which("parallel-work-manager", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("install the package first: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f"[server]\nmax_concurrent = {args.concurrency}\nmax_tasks_per_group = {max(size, 500)}\n"
                          'log_level = "WARNING"\n')
        env = loop_env(Path(tmp), url + "/v1", PWM_CONFIG=str(config))
        tasks = [{"agent_type": "tcoder_speed", "task_description": f"Write function f{i}", "id": f"t{i}"}
                 for i in range(size)]
        before = _children()
        params = StdioServerParameters(command=command, args=["serve"], env=env)
        async with Client(params, read_timeout_seconds=300) as client:
            pid = _server_pid(before)
            await client.list_tools()
            # Wait for the server's state and warm the planner (tokenizer, analyzer) before timing.
            await _call(client, "route_task", {"agent_type": "tcoder_speed", "task_description": "Write f"})
            connections_before = _provider_connections(url)
            cpu_before = _cpu_seconds(pid)
            submitted_at = time.time()
            submit, submit_s = await _call(client, "submit_parallel_tasks", {
                "tasks": tasks, "max_concurrent": args.concurrency, "group_name": f"scale-{size}"})
            group_id = submit.structured_content["group_id"]  # type: ignore[index]
            polls = 0
            while True:
                status, _ = await _call(client, "get_parallel_group_status",
                                        {"group_id": group_id, "wait_seconds": 30, "limit": 1})
                polls += 1
                if status.structured_content["finished"]:  # type: ignore[index]
                    break
                await asyncio.sleep(1 / args.poll_hz)
            cpu_s = _cpu_seconds(pid) - cpu_before
            connections = _provider_connections(url) - connections_before
            counts = status.structured_content["counts"]  # type: ignore[index]
            sizes, times = [], []
            for _ in range(STATUS_SAMPLES):
                reply, elapsed = await _call(client, "get_parallel_group_status", {"group_id": group_id})
                sizes.append(_reply_bytes(reply))
                times.append(elapsed)
            peak_mb, rss_mb = _memory_mb(pid)
        with sqlite3.connect(env["PWM_DB"]) as db:
            (finished_at,) = db.execute("SELECT finished_at FROM groups WHERE id = ?", (group_id,)).fetchone()
    if counts.get("succeeded") != size:
        raise RuntimeError(f"{size} tasks: not all succeeded: {counts}")
    return {
        "size": size, "tasks_per_s": size / (finished_at - submitted_at), "polls": polls,
        "cpu_ms_per_task": cpu_s * 1000 / size, "connections": connections,
        "peak_rss_mb": peak_mb, "end_rss_mb": rss_mb,
        "submit_kb": _reply_bytes(submit) / 1024, "submit_ms": submit_s * 1000,
        "status_kb": max(sizes) / 1024, "status_ms": statistics.median(times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.0, help="the loopback provider's latency, seconds")
    parser.add_argument("--poll-hz", type=float, default=5.0, help="status calls per second at most while waiting")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, list[dict[str, Any]]] = {s: [] for s in sizes}
    with external_loopback("--latency", str(args.latency)) as url:
        for run in range(args.runs):  # sizes interleaved, so load on a shared machine hits them alike
            for size in sizes:
                row = asyncio.run(one_size(size, url, args))
                results[size].append(row)
                print(f"run {run + 1} " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in row.items()), flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; concurrency {args.concurrency}; "
          f"provider latency {args.latency * 1000:.0f} ms")
    for size in sizes:
        rows = results[size]

        def fig(name: str, rows: list[dict[str, Any]] = rows) -> str:
            values = [r[name] for r in rows]
            return f"{name} min {min(values):.1f} median {statistics.median(values):.1f}"

        print(f"{size:>6} tasks: {fig('tasks_per_s')}; {fig('cpu_ms_per_task')}; {fig('peak_rss_mb')}; {fig('submit_kb')}; "
              f"{fig('submit_ms')}; {fig('status_kb')}; {fig('status_ms')}")
    if 1000 in results and 10000 in results:
        ratio = [b["tasks_per_s"] / a["tasks_per_s"] for a, b in zip(results[1000], results[10000], strict=True)]
        print(f"tasks/s at 10k / at 1k (same run): min {min(ratio):.2f} median {statistics.median(ratio):.2f}"
              " (target >= 0.9)")
        cpu = [b["cpu_ms_per_task"] / a["cpu_ms_per_task"] for a, b in zip(results[1000], results[10000], strict=True)]
        print(f"server CPU per task at 10k / at 1k (same run): min {min(cpu):.2f} median {statistics.median(cpu):.2f}"
              " (flat work per task: about 1)")
    if 10000 in results:
        rows = results[10000]
        print(f"at 10k: peak RSS max {max(r['peak_rss_mb'] for r in rows):.0f} MB (target <= 200); status reply "
              f"max {max(r['status_kb'] for r in rows):.1f} KB, median time "
              f"{statistics.median(r['status_ms'] for r in rows):.0f} ms (targets <= 100 KB, <= 100 ms); submit "
              f"reply max {max(r['submit_kb'] for r in rows):.1f} KB (target <= 100 KB)")


if __name__ == "__main__":
    main()
