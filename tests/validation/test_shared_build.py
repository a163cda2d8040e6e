"""The worktrees of one Rust repository share a build folder, and each check's verdict is still its
own: checks running at once (and the run at the base commit) never take another tree's build."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from server.scheduler.validated import check_answer
from server.validation.installed import cargo_target
from server.validation.shared_build import holding
from server.validation.worktree import open_worktree
from tests.validation.helpers import base_env, commit_all, make_repo

needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")

# A test already failing at the base commit (so the base run matters under test_scope "new").
LIB = ("pub fn double(x: u64) -> u64 {\n    x * 2\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n"
       "    fn doubles() {\n        assert_eq!(super::double(2), 4);\n    }\n\n    #[test]\n"
       "    fn broken_before() {\n        assert_eq!(1, 2);\n    }\n}\n")


def _patch(body: str) -> str:
    return (f"```diff\n--- a/core/src/lib.rs\n+++ b/core/src/lib.rs\n@@ -1,3 +1,3 @@\n"
            f" pub fn double(x: u64) -> u64 {{\n-    x * 2\n+    {body}\n }}\n```")


PATCHES = {"good": _patch("x + x"), "wrong": _patch("x * 3"), "not compiling": _patch("x * 2u32")}


def _workspace(root: Path) -> Path:
    """A Cargo workspace with one member crate, as the patched code usually sits."""
    return make_repo(root, {
        "Cargo.toml": '[workspace]\nmembers = ["core"]\nresolver = "2"\n',
        "core/Cargo.toml": '[package]\nname = "core-lib"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "src/lib.rs"\n',
        "core/src/lib.rs": LIB,
        ".gitignore": "target/\n",
    })


@needs_cargo
async def test_checks_run_at_once_on_one_rust_repository_each_get_their_own_verdict(tmp_path: Path) -> None:
    repo = _workspace(tmp_path / "rs")
    env = base_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    spec = {"workspace": str(repo), "checks": ["test"], "test_scope": "new"}
    for names in [("good", "wrong"), ("wrong", "good"), ("not compiling", "good"), ("good", "wrong")]:
        verdicts = await asyncio.gather(*(check_answer(PATCHES[name], spec, env) for name in names))
        for name, verdict in zip(names, verdicts, strict=True):
            assert verdict.passed == (name == "good"), (name, verdict.report_json)
            if verdict.passed:  # only the test failing at the base commit is forgiven: the base run built the base
                assert json.loads(verdict.report_json)["failing_before_the_patch"] == ["tests::broken_before failed"]
    assert (cargo_target(repo, env) / "debug").is_dir()  # one build folder served them all


_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


async def test_a_build_folder_held_by_another_process_is_waited_for_and_links_out_of_the_tree_are_not_stamped(
        tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"  # a file the repository links to, as a tracked symlink
    outside.write_text("x")
    os.utime(outside, ns=(0, 0))
    repo = make_repo(tmp_path / "rs", {"Cargo.toml": '[package]\nname = "x"\nversion = "0.1.0"\n', "src/lib.rs": ""},
                     commit=False)
    (repo / "notes.txt").symlink_to(outside)
    commit_all(repo, "with a link")
    env = base_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    async with await open_worktree(repo, env=env) as handle:
        os.utime(handle.path / "src" / "lib.rs", ns=(0, 0))
        build = cargo_target(repo, env)
        build.parent.mkdir(parents=True)
        holder = await asyncio.create_subprocess_exec(sys.executable, "-c", _HOLDER, str(build) + ".lock", "0.5",
                                                      stdout=asyncio.subprocess.PIPE)
        assert holder.stdout is not None and await holder.stdout.readline() == b"held\n"
        started, wall = time.monotonic(), time.time()
        async with holding(handle.path, env):
            waited = time.monotonic() - started
            stamped = (handle.path / "src" / "lib.rs").stat().st_mtime
        await holder.wait()
    assert waited >= 0.3  # it waited for the other process to let go
    assert stamped >= wall  # then made the tree's sources newer than any build before it
    assert outside.stat().st_mtime_ns == 0  # and followed no link out of the tree
