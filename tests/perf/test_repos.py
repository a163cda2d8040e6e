"""The repository key: one per project, the same in every clone and worktree, never a secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.perf.repos import normalise_remote, repo_key


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def _repo(path: Path, remote: str | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "a.py").write_text("x = 1\n", encoding="utf-8")
    _git(path, "init", "-q")
    _git(path, "add", ".")
    _git(path, "commit", "-qm", "one")
    if remote is not None:
        _git(path, "remote", "add", "origin", remote)
    return path


@pytest.mark.parametrize("url", [
    "https://github.com/acme/api.git",
    "https://x-access-token:ghp_SECRET@github.com/acme/api.git",
    "git@github.com:acme/api.git",
    "ssh://git@GitHub.com:22/acme/api/",
    "https://user:SECRET@github.com/acme/api?private_token=SECRET#frag",
])
def test_every_spelling_of_one_remote_gives_one_key_without_credentials(url: str) -> None:
    assert normalise_remote(url) == "github.com/acme/api"


def test_a_local_remote_is_keyed_by_its_path() -> None:
    assert normalise_remote("file:///srv/git/api.git") == "path:/srv/git/api"
    assert normalise_remote("/srv/git/api.git") == "path:/srv/git/api"
    assert normalise_remote("") is None


def test_clones_share_the_remote_key_and_a_secret_in_the_remote_never_shows(tmp_path: Path) -> None:
    one = _repo(tmp_path / "one", "https://bot:tok_SECRET@git.example.com/team/api.git")
    two = _repo(tmp_path / "elsewhere" / "two", "git@git.example.com:team/api.git")
    (one / "sub").mkdir()
    assert repo_key(one) == repo_key(two) == repo_key(one / "sub") == "git.example.com/team/api"
    assert "SECRET" not in str(repo_key(one))


def test_without_a_remote_the_main_work_tree_is_the_key_and_its_worktrees_share_it(tmp_path: Path) -> None:
    main = _repo(tmp_path / "main")
    _git(main, "worktree", "add", "-q", str(tmp_path / "linked"))
    assert repo_key(main) == f"path:{main.resolve()}"
    assert repo_key(tmp_path / "linked") == repo_key(main)


def test_a_directory_outside_any_repository_has_no_key(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert repo_key(tmp_path / "plain") is None
    assert repo_key(None) is None
    assert repo_key(tmp_path / "missing") is None
