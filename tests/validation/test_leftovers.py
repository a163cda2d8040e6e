"""The server's temporary worktrees outlive no server: a process that exits without cleaning up
removes its own at exit, and the folders of one killed outright are removed (and the repository's
list of worktrees pruned) before the next worktree is made; a live process's folders are kept."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.validation.helpers import base_env, make_repo, wait_gone

# A process that opens a worktree of argv[1], says where, then exits as argv[2] says: "exit" (without
# removing it), "sleep" (until killed), or "close" (removing it).
_OPENER = """
import asyncio, os, sys, time
from pathlib import Path
from server.validation.worktree import open_worktree

async def main():
    handle = await open_worktree(Path(sys.argv[1]), env=dict(os.environ))
    print(handle.path.parent, flush=True)
    if sys.argv[2] == "close":
        await handle.cleanup()
    elif sys.argv[2] == "sleep":
        time.sleep(60)

asyncio.run(main())
"""


async def _opener(repo: Path, temp: Path, how: str) -> tuple[asyncio.subprocess.Process, Path]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _OPENER, str(repo), how, cwd=str(REPO),
                                                env=base_env(TMPDIR=str(temp)), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    return proc, Path((await proc.stdout.readline()).decode().strip())


def _worktrees(repo: Path) -> int:
    listed = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True)
    return len(listed.stdout.splitlines())


async def test_a_process_that_exits_without_cleaning_up_removes_its_worktree_at_exit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (temp := tmp_path / "tmp").mkdir()
    proc, folder = await _opener(repo, temp, "exit")
    assert await proc.wait() == 0
    assert not folder.exists() and list(temp.glob("pwm-*")) == []
    assert _worktrees(repo) == 1  # its registration pruned too


async def test_the_worktrees_of_a_killed_process_are_removed_before_the_next_one_is_made(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"})
    (temp := tmp_path / "tmp").mkdir()
    killed, killed_folder = await _opener(repo, temp, "sleep")
    alive, alive_folder = await _opener(repo, temp, "sleep")
    unowned = temp / "pwm-worktree-unowned"  # no owner named: not ours to judge
    unowned.mkdir()
    killed.send_signal(signal.SIGKILL)
    assert await wait_gone(killed.pid, 10) and await killed.wait() == -signal.SIGKILL
    assert killed_folder.is_dir() and _worktrees(repo) == 3  # what a kill leaves
    closing, closed_folder = await _opener(repo, temp, "close")
    assert await closing.wait() == 0
    assert not killed_folder.exists() and not closed_folder.exists()
    assert alive_folder.is_dir() and unowned.is_dir()
    assert _worktrees(repo) == 2  # the checkout and the live process's worktree
    alive.kill()
    await alive.wait()
