"""Agent loop overhead: worktree set-up on a 2,000-file repository, and the loop's own time per
turn (the model answers instantly, so everything measured is ours: the tool's work included).

    python bench/bench_agent.py [--files 2000] [--runs 5] [--turns 40] [--node-modules 0]

Targets (issue 14): per-turn overhead ≤ 20 ms for reads and edits; worktree set-up ≤ 300 ms.
Prints min and median of the runs; the baseline beside the set-up is a bare `git worktree add`
of the same commit, measured in the same run. `--node-modules N` gives the checkout an ignored
`node_modules` of N packages, which the set-up mirrors into the worktree (`validation.installed`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.agent import AgentBounds, AgentReply, AgentTools, AgentWorkspace, run_agent
from server.backends.base import ChatMessage, ToolCall, ToolSpec  # noqa: E402


def make_repo(root: Path, files: int, node_modules: int = 0) -> None:
    root.mkdir(parents=True)
    if node_modules:
        (root / ".gitignore").write_text("node_modules/\n")
        for i in range(node_modules):
            package = root / "node_modules" / f"package-{i}"
            package.mkdir(parents=True)
            (package / "index.js").write_text(f"module.exports = {i};\n")
    for i in range(files):
        d = root / f"pkg{i // 100}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i}.py").write_text("".join(f"def f{j}(x):\n    return x + {j}\n\n" for j in range(20)))
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=root, check=True)


class Instant:
    """A model that answers at once: alternately reads and edits a function."""

    def __init__(self) -> None:
        self.n = 0
        self.stamps: list[float] = []  # when each turn reached the model: the gaps are our own time

    async def __call__(self, messages: list[ChatMessage], tools: Sequence[ToolSpec]) -> AgentReply:
        self.stamps.append(time.perf_counter())
        self.n += 1
        if self.n % 2:
            call = ToolCall(str(self.n), "read_file",
                            json.dumps({"path": "pkg3/mod345.py", "start_line": 1, "end_line": 40}))
        else:
            old, new = (f"+ {self.n - 2}\n", f"+ {self.n}\n") if self.n > 2 else ("+ 0\n", "+ 2\n")
            call = ToolCall(str(self.n), "replace_text", json.dumps(
                {"path": "pkg3/mod345.py", "old": "return x " + old, "new": "return x " + new}))
        return AgentReply("", (call,))


async def one_run(repo: Path, turns: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    ws = await AgentWorkspace.create(repo, task_id=f"bench-{time.monotonic_ns()}", env=dict(os.environ))
    setup_ms = (time.perf_counter() - t0) * 1000
    try:
        model = Instant()
        await run_agent(model, AgentTools(ws), [ChatMessage("user", "x")], AgentBounds(max_turns=turns))
        gaps = [(b - a) * 1000 for a, b in zip(model.stamps, model.stamps[1:], strict=False)]
        per_turn = statistics.median(gaps)
    finally:
        await ws.cleanup()
    return setup_ms, per_turn, bare_worktree_ms(repo)


def bare_worktree_ms(repo: Path) -> float:
    """The baseline: a bare `git worktree add` of the same commit."""
    t0 = time.perf_counter()
    wt = repo.parent / f"bare-{time.monotonic_ns()}"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(wt), "HEAD"], cwd=repo, check=True)
    elapsed = (time.perf_counter() - t0) * 1000
    subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=repo, check=True)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--node-modules", type=int, default=0, help="packages in an ignored node_modules")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        make_repo(repo, args.files, args.node_modules)
        runs = [asyncio.run(one_run(repo, args.turns)) for _ in range(args.runs)]
    setup, turn, bare = zip(*runs, strict=True)
    print(f"repository: {args.files} files, node_modules of {args.node_modules} packages; "
          f"{args.runs} runs of {args.turns} turns")
    print(f"worktree set-up   min {min(setup):7.1f} ms  median {statistics.median(setup):7.1f} ms  (target ≤ 300)")
    print(f"bare git worktree min {min(bare):7.1f} ms  median {statistics.median(bare):7.1f} ms  "
          f"(ratio median {statistics.median(setup) / statistics.median(bare):.2f}x)")
    print(f"per-turn (median of a run) min {min(turn):7.2f} ms  median {statistics.median(turn):7.2f} ms  (target ≤ 20)")


if __name__ == "__main__":
    main()
