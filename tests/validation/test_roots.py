"""Path confinement: only directories inside the allowed roots get through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.errors import WorkspaceError
from server.validation.roots import allowed_roots, confine_path, roots_from_uris


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "proj" / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    return root.resolve(), outside.resolve()


def test_directory_inside_a_root_is_returned_resolved(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    assert confine_path(str(root / "proj" / "sub"), [root]) == root / "proj" / "sub"
    assert confine_path("proj", [root]) == root / "proj"
    assert confine_path(str(root / "proj" / ".." / "proj"), [root]) == root / "proj"


def test_dotdot_escape_is_refused_naming_the_field_and_roots(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    with pytest.raises(WorkspaceError) as err:
        confine_path("proj/../../outside", [root])
    assert str(err.value).startswith("path:")
    assert str(root) in str(err.value)


def test_symlink_pointing_out_is_refused(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    os.symlink(outside, root / "escape")
    with pytest.raises(WorkspaceError, match="outside the allowed roots"):
        confine_path(str(root / "escape"), [root])


def test_absolute_path_elsewhere_is_refused(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    with pytest.raises(WorkspaceError, match="outside the allowed roots"):
        confine_path(str(outside), [root])
    with pytest.raises(WorkspaceError, match="outside"):
        confine_path("/", [root])


def test_missing_path_and_file_are_refused(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "file.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="does not exist"):
        confine_path("nope", [root])
    with pytest.raises(WorkspaceError, match="not a directory"):
        confine_path("file.txt", [root])
    with pytest.raises(WorkspaceError, match="empty"):
        confine_path("  ", [root])


def test_client_roots_win_over_configured_then_cwd(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert allowed_roots([a], [b], tmp_path) == (a.resolve(),)
    assert allowed_roots(None, [b], tmp_path) == (b.resolve(),)
    assert allowed_roots([], [], tmp_path) == (tmp_path.resolve(),)


def test_only_local_file_uris_become_roots() -> None:
    uris = ["file:///home/me/code", "file://localhost/srv/x%20y", "https://example.com/repo", "file://host/z"]
    assert roots_from_uris(uris) == [Path("/home/me/code"), Path("/srv/x y")]
