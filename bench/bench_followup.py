"""Differential context: what a follow-up that needs no new files sends, against its first turn.

    python bench/bench_followup.py [--runs 5]

A task about a real repository (a copy of this project's `server/` package, committed in a
temporary git repository) runs over MCP against the loopback provider, with its workspace, so its
first prompt carries the selected workspace code; then `continue_task` asks a follow-up that needs
no new files. Measured per run: the prompt tokens the provider reported for the first call and
for the follow-up (the loopback counts the request it received), printed as follow-up / first.

Target (issue 16): the follow-up sends at most 20% of the first turn's tokens. Prints min and
median over the runs. The baseline is the first call of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import Client  # noqa: E402

from server.app import build_server  # noqa: E402
from server.settings import load_settings  # noqa: E402
from tests.scheduler.overlay import loop_env  # noqa: E402
from tests.support.loopback_provider import LoopbackProvider, Reply  # noqa: E402

TASK = ("Explain how CallGate in server/scheduler/gate.py decides which waiting call gets the next "
        "permit, and how a cooled-down model is handled.")
FOLLOW_UP = "Thanks. Now say the same in two sentences for a release note."
# A first answer of realistic length (~300 tokens): the follow-up resends it as the previous exchange.
ANSWER = "\n\n".join([
    "CallGate keeps one queue per provider and one per model. When a call finishes, the gate looks at "
    "the waiting calls whose provider and model both have room and gives the permit to the one with the "
    "highest priority; among equals, the task deepest in its group's dependency graph goes first, so the "
    "critical path is never starved, and then the one that has waited longest.",
    "A model that answered 429 is cooled down: its queue is held until the cool-down ends (the provider's "
    "Retry-After, else a backoff). A waiting call that has another candidate model does not sit in that "
    "queue: the runner moves it to the next model of its chain when the wait would be longer than "
    "move_after_s, and comes back only when every other candidate is used up or cooling too.",
    "Rate limits are tracked per provider and per model as sliding windows of requests and tokens, fed "
    "by the x-ratelimit headers of every answer, so a permit is only given when the call fits the window; "
    "group limits cap how many calls of one group are in flight at once.",
])


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(Path(__file__).resolve().parents[1] / "server", repo / "server",
                    ignore=shutil.ignore_patterns("__pycache__", "*.json", "static"))
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    return repo


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        raise SystemExit(f"{tool} failed: {result.content}")
    return result.structured_content


async def one_run(root: Path, repo: Path) -> tuple[int, int, int]:
    """(first call's prompt tokens, the follow-up's, the follow-up's new context tokens)."""
    with LoopbackProvider() as lp:
        lp.script("fast-a", [Reply(ANSWER), Reply("Release note: ...")])
        settings = load_settings(loop_env(root, lp.openai_url, PWM_ALLOWED_ROOTS=str(repo.parent)))
        async with Client(build_server(settings)) as client:
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                {"agent_type": "tcoder_speed", "task_description": TASK, "workspace": str(repo)}]})
            for _ in range(60):
                status = await call(client, "get_parallel_group_status",
                                    {"group_id": submitted["group_id"], "wait_seconds": 5})
                if status["finished"]:
                    break
            task = status["tasks"][0]
            follow = await call(client, "continue_task", {"task_id": task["task_id"], "message": FOLLOW_UP})
            status = await call(client, "get_parallel_group_status", {"group_id": submitted["group_id"]})
    first, second = (a["input_tokens"] for a in status["tasks"][0]["attempts"])
    return first, second, follow["context_tokens"]


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp))
        results = []
        for n in range(runs):
            root = Path(tmp) / f"run{n}"
            root.mkdir()
            results.append(await one_run(root, repo))
    ratios = [second / first for first, second, _ in results]
    firsts = [first for first, _, _ in results]
    print(f"first turn prompt tokens: min {min(firsts)} median {statistics.median(firsts):.0f}")
    print(f"follow-up prompt tokens:  min {min(s for _, s, _ in results)} "
          f"median {statistics.median(s for _, s, _ in results):.0f} (new context: "
          f"{max(c for _, _, c in results)} tokens at most)")
    print(f"follow-up / first turn: min {min(ratios):.3f} median {statistics.median(ratios):.3f} "
          f"(target <= 0.200) over {runs} runs")
    if min(firsts) < 1000:
        print("note: the first prompt carried little workspace code (is workspace context available?)")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
