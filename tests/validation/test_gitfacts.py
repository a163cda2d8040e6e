"""Git facts through gitpython: branch, detached HEAD, changed and untracked files, diff stat."""

from __future__ import annotations

from pathlib import Path

import git

from server.validation.gitfacts import read_git_facts
from tests.validation.helpers import commit_all, make_repo, write_files


async def test_branch_changed_untracked_and_diff_stat(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"a.txt": "one\ntwo\n", "b.txt": "x\n", "sub/c.txt": "c\n"})
    write_files(root, {"a.txt": "one\n2\nthree\n", "new.txt": "n\n"})
    with git.Repo(root) as repo:
        (root / "b.txt").write_text("y\n")
        repo.index.add(["b.txt"])  # staged
    facts = await read_git_facts(root)
    assert facts is not None
    assert facts.branch == "main" and not facts.detached and facts.head is not None
    assert set(facts.changed) == {"a.txt", "b.txt"}
    assert facts.untracked == ("new.txt",)
    assert (facts.diff_stat.files, facts.diff_stat.insertions, facts.diff_stat.deletions) == (2, 3, 2)


async def test_facts_of_a_subdirectory_are_relative_to_it(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"top.txt": "t\n", "sub/c.txt": "c\n"})
    write_files(root, {"top.txt": "T\n", "sub/c.txt": "C\n", "sub/new.txt": "n\n"})
    facts = await read_git_facts(root / "sub")
    assert facts is not None
    assert facts.changed == ("c.txt",) and facts.untracked == ("new.txt",)
    assert facts.diff_stat.files == 1


async def test_detached_head_has_no_branch(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"a.txt": "1\n"})
    write_files(root, {"a.txt": "2\n"})
    second = commit_all(root, "second")
    with git.Repo(root) as repo:
        repo.git.checkout(second, detach=True)
    facts = await read_git_facts(root)
    assert facts is not None and facts.detached and facts.branch is None and facts.head == second


async def test_repository_without_commits_lists_files_as_untracked(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"a.py": "x = 1\n"}, commit=False)
    facts = await read_git_facts(root)
    assert facts is not None and facts.head is None and facts.untracked == ("a.py",)


async def test_directory_outside_any_repository_has_no_facts(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert await read_git_facts(tmp_path / "plain") is None
