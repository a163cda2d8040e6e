"""Benchmark: `validate_workspace` on an unchanged Python project, the second time, against the
time of its slowest check run alone. Target: ratio < 1.5.

Builds a small real Python project in a temporary git repository (a package, a few tests that
do real work for a noticeable time, ruff-clean code), then:
  1. runs each check kind alone, uncached, and takes the slowest check's duration;
  2. calls the `validate_workspace` tool twice through an in-process MCP client;
  3. prints both runs and the ratio second-run / slowest-check-alone;
  4. prints what the subreaper supervisor (which kills daemonized descendants) costs per
     command: 20 sequential `true` runs supervised against the same unsupervised, min and median
     of 5 rounds, as a ratio.

Run: python bench/bench_validate.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import git
from mcp import Client
from mcp.server.mcpserver import MCPServer

from server.app import TOOL_MODULES, build_server
from server.settings import Settings, load_settings
from server.state import AppState, open_app_state
from server.validation import ALL_KINDS, ValidationOptions, validate_path
from server.validation.procs import child_env, run_process
from tools.validate_workspace import register

__all__ = ["main"]

PRIMES = '''"""Prime numbers, the slow honest way."""


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def primes_below(limit: int) -> list[int]:
    return [n for n in range(limit) if is_prime(n)]
'''

TESTS = '''from mathy.primes import is_prime, primes_below


def test_small_primes() -> None:
    assert primes_below(20) == [2, 3, 5, 7, 11, 13, 17, 19]


def test_count_below_200k() -> None:
    assert len(primes_below(200_000)) == 17984


def test_count_below_150k() -> None:
    assert len(primes_below(150_000)) == 13848


def test_large_prime() -> None:
    assert is_prime(1_000_000_007)
'''


def make_project(root: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "mathy"\nversion = "0.1.0"\n',
        "mathy/__init__.py": "",
        "mathy/primes.py": PRIMES,
        "tests/test_primes.py": TESTS,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    with git.Repo.init(root, initial_branch="main") as repo:
        repo.git.add(A=True)
        actor = git.Actor("bench", "bench@example.invalid")
        repo.index.commit("initial", author=actor, committer=actor)


def server_for(settings: Settings) -> MCPServer[AppState]:
    if "tools.validate_workspace" in TOOL_MODULES:
        return build_server(settings)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        state = await open_app_state(settings)
        try:
            yield state
        finally:
            await state.aclose()

    mcp: MCPServer[AppState] = MCPServer(name="parallel-work-manager", lifespan=lifespan)
    register(mcp)
    return mcp


async def run(tmp: Path) -> float:
    project = tmp / "mathy"
    make_project(project)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    alone: dict[str, float] = {}
    for kind in ALL_KINDS:
        report = await validate_path(project, ValidationOptions(checks=(kind,), use_cache=False), base_env=env)
        for check in report.checks:
            assert check.status == "passed", (check.name, check.status, check.output_tail)
            alone[check.name] = check.duration_s
    slowest_name = max(alone, key=lambda name: alone[name])
    slowest = alone[slowest_name]

    settings = load_settings(env, allowed_roots=(tmp,), data_dir=tmp / "data")
    async with Client(server_for(settings)) as client:
        t0 = time.perf_counter()
        first = await client.call_tool("validate_workspace", {"path": str(project)})
        t1 = time.perf_counter()
        second = await client.call_tool("validate_workspace", {"path": str(project)})
        t2 = time.perf_counter()
    assert first.structured_content and first.structured_content["passed"], first.content
    assert second.structured_content and second.structured_content["passed"], second.content
    cached = [c["cached"] for c in second.structured_content["checks"]]

    first_s, second_s = t1 - t0, t2 - t1
    print("checks alone (s): " + ", ".join(f"{k}={v:.3f}" for k, v in alone.items()))
    print(f"slowest check alone: {slowest_name} {slowest:.3f} s")
    print(f"validate_workspace run 1 (cold, checks concurrent): {first_s:.3f} s  ratio {first_s / slowest:.2f}")
    print(f"validate_workspace run 2 (unchanged project): {second_s:.3f} s  cached={cached}")
    ratio = second_s / slowest
    print(f"RATIO second run / slowest check alone = {ratio:.3f} (target < 1.5): {'OK' if ratio < 1.5 else 'MISSED'}")
    return ratio


async def supervisor_cost(tmp: Path, commands: int = 20, rounds: int = 5) -> float:
    """Median seconds per command supervised / unsupervised (`true`, sequentially)."""
    true = shutil.which("true") or "/bin/true"
    env = child_env(os.environ)
    loop = asyncio.get_running_loop()
    per: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for supervise in (False, True):
            t0 = time.perf_counter()
            for _ in range(commands):
                proc = await run_process([true], cwd=tmp, env=env, deadline=loop.time() + 30, supervise=supervise)
                assert proc.exit_code == 0
            per[supervise].append((time.perf_counter() - t0) / commands)
    for supervise, label in ((False, "direct"), (True, "supervised")):
        times = per[supervise]
        print(f"{label:>10} command: min {min(times) * 1000:.1f} ms, median {statistics.median(times) * 1000:.1f} ms")
    ratio = statistics.median(per[True]) / statistics.median(per[False])
    extra = (statistics.median(per[True]) - statistics.median(per[False])) * 1000
    print(f"RATIO supervised / direct per command (median) = {ratio:.2f} (+{extra:.1f} ms a command)")
    return ratio


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pwm-bench-validate-") as tmp:
        asyncio.run(run(Path(tmp).resolve()))
        asyncio.run(supervisor_cost(Path(tmp).resolve()))


if __name__ == "__main__":
    main()
