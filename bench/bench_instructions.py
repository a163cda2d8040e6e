"""Instructions per call, counted by callgrind: our engine's task against plain httpx's request.

Time on a shared 2-core machine moves by more than the differences we look for; instructions
barely move. Each system runs in a child process under `valgrind --tool=callgrind` twice, with
`--small` and `--large` calls against one loopback provider (its own process, not counted, 2 ms
latency); the difference divided by the difference in calls is what one more call costs, start-up
and warm-up cancelled out. The systems, in the same run:

- plain httpx: `httpx.AsyncClient().stream("POST", ...)` read to its end (bench_vs_litellm's row);
- our engine: a group of one-line tasks at concurrency 1 through `server.scheduler.Engine`
  (plan, dispatch, the begin and settle transactions, the streamed call): bench_vs_litellm's row,
  here with its planning included.

    python bench/bench_instructions.py [--small 40] [--large 140]

Needs valgrind (`apt-get install valgrind`); about 5 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SYSTEMS = ("plain httpx", "our engine")


async def _child(system: str, calls: int, url: str) -> None:
    from bench_makespan import open_engine, run_group
    from bench_vs_litellm import plain_httpx

    from server.scheduler.types import GroupInput, TaskInput

    if system == "plain httpx":
        await plain_httpx(url, calls, [1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        async with open_engine(Path(tmp), url + "/v1", concurrency=1) as engine:
            group = GroupInput(tasks=tuple(TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}",
                                                     key=f"t{i}") for i in range(calls)), name="m", max_concurrent=1)
            await run_group(engine, group)


def _instructions(system: str, calls: int, url: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable, __file__,
             "--child", system, "--calls", str(calls), "--url", url],
            capture_output=True, text=True, check=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count for {system}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--large", type=int, default=140)
    parser.add_argument("--child", choices=SYSTEMS)
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child, args.calls, args.url))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    from bench_makespan import external_loopback

    per_call: dict[str, float] = {}
    with external_loopback("--latency", "0.002") as url:
        for system in SYSTEMS:
            small, large = (_instructions(system, calls, url) for calls in (args.small, args.large))
            per_call[system] = (large - small) / (args.large - args.small)
            print(f"{system}: {per_call[system] / 1e6:.2f}M instructions per call", flush=True)
    extra = per_call["our engine"] - per_call["plain httpx"]
    print(f"our engine minus plain httpx: {extra / 1e6:.2f}M per task "
          f"(engine / httpx {per_call['our engine'] / per_call['plain httpx']:.2f}x)")


if __name__ == "__main__":
    main()
