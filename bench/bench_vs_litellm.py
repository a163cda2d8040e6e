"""Per-call overhead beside plain httpx and LiteLLM's Router, one loopback provider, one run.

The loopback provider (its own process) answers every chat completion after a fixed latency
(20 ms by default), streamed. Each system sends the same requests at concurrency 1 and 16;
a request's added time is its latency minus the provider's. The four rows (issue 12's table):

- plain httpx: one `AsyncClient`, the same streamed POST read to its end;
- LiteLLM Router: `litellm.Router` with one deployment on the loopback, `acompletion(stream=True)`
  read to its last chunk, run in LiteLLM's own virtual environment (created once with
  `pip install litellm` under `--litellm-venv`, never in the project's), figures back as JSON;
- our engine, state persisted: a group of independent tasks through `server.scheduler.Engine`
  (SQLite store, router, gate, registry, httpx) at `max_concurrent` = the concurrency; a task's
  latency runs from its dispatch (a worker takes it) to its outcome committed;
- our MCP server over stdio: a real MCP client session (the SDK's `Client`, which validates each
  result against the tool's output schema as clients do) spawning `python -m server serve` as
  Claude Desktop does; a request submits a one-task group with `wait_seconds` (one call: the reply
  carries the finished group's status) and follows it with `get_parallel_group_status` only if it
  had not finished.

Printed per row and concurrency: p50 / p99 of the added time (min and median over `--runs`),
ours minus plain httpx, and how many times lower ours is than LiteLLM's (both over plain
httpx, run by run). The rows run one after another, so a drift of the machine between them
lands in the difference; the paired line measures the engine's c=1 difference again with plain
httpx and the engine in alternating blocks of 25 calls in one process. Targets (issue 12): ours >= 5x lower than LiteLLM's at both
concurrencies; p50 <= 1 ms and p99 <= 5 ms over plain httpx at concurrency 1.

`--busy N` keeps N other processes spinning on the CPU for the whole measurement (this machine
has 2 cores: `--busy 2` leaves no core idle), to see whether the figures hold on a busy machine
rather than only on a quiet one.

    python bench/bench_vs_litellm.py [--requests 200] [--runs 3] [--latency 0.02] [--no-litellm] [--no-mcp]
                                     [--busy N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from bench_makespan import external_loopback, open_engine  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from server.scheduler.types import GroupInput, TaskInput  # noqa: E402
from tests.scheduler.overlay import loop_env  # noqa: E402

CHILD = Path(__file__).resolve().parent / "litellm_router_child.py"
DEFAULT_VENV = Path.home() / ".cache" / "pwm-bench" / "litellm-venv"
WARMUP = 20
Latencies = dict[int, list[float]]  # concurrency -> seconds per request


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _levels(one: Callable[[int], Any], requests: int, concurrencies: list[int],
                  cpu: dict[int, float] | None = None) -> Latencies:
    """Per concurrency: a warm-up, then `requests` calls of `one`, that many at a time (and, into
    `cpu`, this process's CPU seconds per measured call)."""
    out: Latencies = {}
    for concurrency in concurrencies:
        for warm in (True, False):
            latencies: list[float] = []
            counter = iter(range(WARMUP if warm else requests))
            started = time.process_time()

            async def worker(latencies: list[float] = latencies, counter: Any = counter) -> None:
                for index in counter:
                    start = time.perf_counter()
                    await one(index)
                    latencies.append(time.perf_counter() - start)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        if cpu is not None:
            cpu[concurrency] = (time.process_time() - started) / requests
        out[concurrency] = latencies
    return out


# -- (a) plain httpx -----------------------------------------------------------------------------

async def plain_httpx(url: str, requests: int, concurrencies: list[int], cpu: dict[int, float] | None = None
                      ) -> Latencies:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=128)) as http:
        return await _levels(lambda index: _httpx_call(http, url, index), requests, concurrencies, cpu)


async def _httpx_call(http: httpx.AsyncClient, url: str, index: int) -> None:
    """Plain httpx's request: the streamed POST read to its end."""
    body = {"model": "fast-a", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 256,
            "messages": [{"role": "user", "content": f"Write function f{index}"}]}
    async with http.stream("POST", url + "/v1/chat/completions", json=body,
                           headers={"authorization": "Bearer test-key-a"}) as response:
        async for _ in response.aiter_bytes():
            pass


# -- (b) LiteLLM's Router, in its own environment -----------------------------------------------

def litellm_python(venv_dir: Path) -> Path:
    """The interpreter of LiteLLM's own environment, created (once) with `pip install litellm`."""
    python = venv_dir / "bin" / "python"
    probe = [str(python), "-c", "import litellm"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:  # noqa: S603
        return python
    print(f"creating LiteLLM's environment in {venv_dir} (pip install litellm)...", file=sys.stderr, flush=True)
    venv.create(venv_dir, with_pip=True, clear=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "litellm"], check=True)  # noqa: S603
    return python


def litellm_router(python: Path, url: str, requests: int, concurrencies: list[int]) -> tuple[Latencies, str]:
    out = subprocess.run(  # noqa: S603 - our script, fixed arguments, no shell
        [str(python), str(CHILD), url, "--requests", str(requests), "--warmup", str(WARMUP),
         "--concurrencies", ",".join(map(str, concurrencies))],
        capture_output=True, text=True, timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the LiteLLM run failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {int(c): v for c, v in data["latencies"].items()}, str(data["litellm"])


# -- (c) our engine, state persisted --------------------------------------------------------------

async def our_engine(url: str, requests: int, concurrencies: list[int], cpu: dict[int, float] | None = None
                     ) -> tuple[Latencies, dict[int, float]]:
    """Per concurrency: task latencies (dispatch -> outcome committed) and the group's mean
    seconds per task from its makespan (concurrency x makespan / tasks: hand-overs included);
    into `cpu`, this process's CPU seconds per task of the measured group."""
    from bench_makespan import run_group

    out: Latencies = {}
    per_task: dict[int, float] = {}
    for concurrency in concurrencies:
        with tempfile.TemporaryDirectory() as tmp:
            async with open_engine(Path(tmp), url + "/v1", concurrency=concurrency, collect_timings=True) as engine:
                for count, name in ((WARMUP, "warm-up"), (requests, "measured")):
                    assert engine.timings is not None
                    engine.timings.clear()
                    group = GroupInput(
                        tasks=tuple(TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}",
                                              key=f"t{i}") for i in range(count)),
                        name=name, max_concurrent=concurrency,
                    )
                    started = time.process_time()
                    _, makespan = await run_group(engine, group)
                if cpu is not None:
                    cpu[concurrency] = (time.process_time() - started) / requests
                statuses = {t.status for t in await engine.store.list_tasks((await engine.store.get_group("measured")).id)}
                assert statuses == {"succeeded"}, statuses
                assert engine.timings is not None
                out[concurrency] = [t.done_at - t.ready_at for t in engine.timings.values()]
                per_task[concurrency] = makespan * concurrency / requests
    return out, per_task


async def paired(url: str, requests: int, block: int = 25) -> tuple[list[float], list[float]]:
    """Concurrency 1, plain httpx and our engine in alternating blocks of `block` calls in one
    process (which goes first alternates too): a drift of the machine falls on both alike. Per
    call: (httpx latencies, engine latencies) as the rows above measure them."""
    from bench_makespan import run_group

    http_latencies: list[float] = []
    engine_latencies: list[float] = []
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=128)) as http:
        async def http_block(keep: bool) -> None:
            for index in range(block):
                start = time.perf_counter()
                await _httpx_call(http, url, index)
                if keep:
                    http_latencies.append(time.perf_counter() - start)

        with tempfile.TemporaryDirectory() as tmp:
            async with open_engine(Path(tmp), url + "/v1", concurrency=1, collect_timings=True) as engine:
                async def engine_block(keep: bool, name: str) -> None:
                    assert engine.timings is not None
                    engine.timings.clear()
                    group = GroupInput(tasks=tuple(TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}",
                                                             key=f"t{i}") for i in range(block)),
                                       name=name, max_concurrent=1)
                    await run_group(engine, group)
                    if keep:
                        engine_latencies.extend(t.done_at - t.ready_at for t in engine.timings.values())

                for index in range(1 + -(-requests // block)):  # the first pair warms up
                    keep = index > 0
                    if index % 2:
                        await engine_block(keep, f"b{index}")
                        await http_block(keep)
                    else:
                        await http_block(keep)
                        await engine_block(keep, f"b{index}")
    return http_latencies, engine_latencies


# -- (d) our MCP server over stdio ----------------------------------------------------------------

async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"{tool} failed: {result.content}")
    return result.structured_content


async def our_mcp(url: str, requests: int, concurrencies: list[int]) -> Latencies:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(f"[server]\nmax_concurrent = {max(concurrencies)}\n", encoding="utf-8")
        env = loop_env(Path(tmp), url + "/v1", PWM_LOG_LEVEL="WARNING", PWM_CONFIG=str(config))
        params = StdioServerParameters(command=sys.executable, args=["-m", "server", "serve"], env=env,
                                       cwd=str(REPO))
        async with Client(params, read_timeout_seconds=60) as client:

            async def one(index: int) -> None:
                submitted = await _call(client, "submit_parallel_tasks", {"wait_seconds": 30, "tasks": [
                    {"agent_type": "tcoder_speed", "task_description": f"Write function f{index}"}]})
                status = submitted["group_status"]
                while not status["finished"]:
                    status = await _call(client, "get_parallel_group_status",
                                         {"group_id": submitted["group_id"], "wait_seconds": 30})
                if status["status"] != "succeeded":
                    raise RuntimeError(f"task did not succeed: {status}")

            return await _levels(one, requests, concurrencies)


# -- the run --------------------------------------------------------------------------------------

def _figures(latencies: Latencies, provider_s: float) -> dict[int, tuple[float, float]]:
    """(p50, p99) of the added time in ms, per concurrency."""
    return {c: (_pct([(x - provider_s) * 1000 for x in v], 0.5), _pct([(x - provider_s) * 1000 for x in v], 0.99))
            for c, v in latencies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per concurrency")
    parser.add_argument("--concurrencies", default="1,16")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="the provider's latency, seconds")
    parser.add_argument("--litellm-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--no-mcp", action="store_true")
    parser.add_argument("--busy", type=int, default=0, help="processes kept spinning on the CPU meanwhile")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrencies.split(",")]
    python = None if args.no_litellm else litellm_python(args.litellm_venv)
    rows: dict[str, list[dict[int, tuple[float, float]]]] = {}
    makespan_rows: list[dict[int, float]] = []
    cpu_rows: list[dict[int, float]] = []  # per run: our CPU per task minus plain httpx's per call, ms
    paired_rows: list[tuple[float, float]] = []  # per run: engine minus httpx at c=1, p50 and p99, ms
    version = ""
    start_load = os.getloadavg()
    with busy_processes(args.busy), external_loopback("--latency", str(args.latency)) as url:
        for run in range(args.runs):
            cpu_httpx: dict[int, float] = {}
            cpu_ours: dict[int, float] = {}
            results: dict[str, Latencies] = {
                "plain httpx": asyncio.run(plain_httpx(url, args.requests, levels, cpu_httpx))}
            if python is not None:
                results["LiteLLM Router"], version = litellm_router(python, url, args.requests, levels)
            results["our engine, state persisted"], per_task = asyncio.run(
                our_engine(url, args.requests, levels, cpu_ours))
            makespan_rows.append({c: (s - args.latency) * 1000 for c, s in per_task.items()})
            cpu_rows.append({c: (cpu_ours[c] - cpu_httpx[c]) * 1000 for c in levels})
            if not args.no_mcp:
                results["our MCP stdio end to end"] = asyncio.run(our_mcp(url, args.requests, levels))
            http_lat, engine_lat = asyncio.run(paired(url, args.requests))
            paired_rows.append(tuple(  # type: ignore[arg-type]
                (_pct(engine_lat, q) - _pct(http_lat, q)) * 1000 for q in (0.5, 0.99)))
            for name, latencies in results.items():
                rows.setdefault(name, []).append(_figures(latencies, args.latency))
            print(f"run {run + 1}: " + "; ".join(
                f"{name} " + ", ".join(f"c={c} {p50:.2f}/{p99:.2f}" for c, (p50, p99) in rows[name][-1].items())
                for name in rows), file=sys.stderr, flush=True)
    end_load = os.getloadavg()
    _report(args, levels, rows, makespan_rows, version, start_load, end_load)
    print(f"our engine, c=1, paired with plain httpx in alternating blocks of 25 ({args.requests} calls each), minus "
          f"plain httpx, ms, min/median: p50 {min(r[0] for r in paired_rows):.2f}/"
          f"{statistics.median(r[0] for r in paired_rows):.2f}, p99 {min(r[1] for r in paired_rows):.2f}/"
          f"{statistics.median(r[1] for r in paired_rows):.2f} (runs: "
          + ", ".join(f"{r[0]:.2f}" for r in paired_rows) + ")")
    # CPU time is what a loaded machine inflates least (no waiting for a core is counted in it).
    print("engine CPU per task minus plain httpx's per call (this process), ms, min/median: " + ", ".join(
        f"c={c} {min(r[c] for r in cpu_rows):.2f}/{statistics.median(r[c] for r in cpu_rows):.2f}" for c in levels))


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """`count` child processes spinning on the CPU while the block runs (a busy machine)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _report(args: argparse.Namespace, levels: list[int], rows: dict[str, list[dict[int, tuple[float, float]]]],
            makespan_rows: list[dict[int, float]], version: str, start_load: tuple[float, float, float],
            end_load: tuple[float, float, float]) -> None:
    def mm(values: list[float]) -> str:
        return f"{min(values):.2f}/{statistics.median(values):.2f}"

    print(f"provider latency {args.latency * 1000:.0f} ms, streamed; {args.requests} requests per concurrency; "
          f"{args.runs} runs; LiteLLM {version or 'not run'}; {args.busy} busy processes beside; load average {start_load[0]:.2f} at the start, "
          f"{end_load[0]:.2f} at the end (1 min)")
    print("added over the provider, ms, min/median over runs")
    header = "| system | " + " | ".join(f"c={c} p50 | c={c} p99" for c in levels) + " |"
    print(header)
    print("|" + "---|" * (1 + 2 * len(levels)))
    for name, runs in rows.items():
        cells = []
        for c in levels:
            cells += [mm([r[c][0] for r in runs]), mm([r[c][1] for r in runs])]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("engine per task from the makespan (mean, hand-overs included), added ms: "
          + ", ".join(f"c={c} {mm([r[c] for r in makespan_rows])}" for c in levels))
    plain = rows["plain httpx"]
    for name in [n for n in rows if n.startswith("our")]:
        for c in levels:
            for q, label in ((0, "p50"), (1, "p99")):
                over = [r[c][q] - p[c][q] for r, p in zip(rows[name], plain, strict=True)]
                line = f"{name}, c={c}, {label}: minus plain httpx {mm(over)} ms"
                if "LiteLLM Router" in rows:
                    lite = [r[c][q] - p[c][q] for r, p in zip(rows["LiteLLM Router"], plain, strict=True)]
                    line += (f"; LiteLLM's minus plain httpx {mm(lite)} ms; LiteLLM's / ours, run by run: "
                             + ", ".join(_times(lt, o) for lt, o in zip(lite, over, strict=True)) + " (target >= 5)")
                print(line)


def _times(litellm: float, ours: float) -> str:
    """How many times LiteLLM's added time is ours (both over plain httpx), as a figure or a bound."""
    if litellm <= 0:
        return "n/a (LiteLLM not above httpx)"
    if ours <= 0.05:  # ours within the noise of plain httpx: at least this many times lower
        return f">={litellm / 0.05:.0f}x"
    return f"{litellm / ours:.1f}x"

if __name__ == "__main__":
    main()
