"""The import graph of a repository's Python files, on a real temporary git repository."""

from __future__ import annotations

from pathlib import Path

from server.context import ContextOptions
from server.context.imports import import_graph
from server.context.request import repository_root
from server.context.service import _open
from tests.validation.helpers import make_repo


def test_absolute_relative_and_parenthesised_imports_resolve_to_the_files_they_name(
        tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "repo", {
        "src/pkg/__init__.py": "from .core import run\n",
        "src/pkg/core.py": "import os\nimport types\nfrom pkg import util\nfrom . import (\n    models,\n)\n\n\ndef run():\n    pass\n",
        "src/pkg/util.py": "from pkg.models import Model as M  # a name of a module\n",
        "src/pkg/models.py": "class Model:\n    pass\n",
        "src/pkg/types.py": "X = 1\n",
        "src/pkg/sub/deep.py": "from ..core import run\nimport pkg.util\n",
    })
    index, _ = _open(repository_root(repo, "workspace"), options)
    snapshot = index.snapshot(None)
    graph = import_graph(snapshot)
    path = {d.id: d.path for d in snapshot.docs.values()}
    edges = {(path[a], path[b]) for a, targets in graph.items() for b in targets}
    assert edges == {
        ("src/pkg/__init__.py", "src/pkg/core.py"),
        ("src/pkg/core.py", "src/pkg/util.py"),
        ("src/pkg/core.py", "src/pkg/models.py"),
        ("src/pkg/util.py", "src/pkg/models.py"),
        ("src/pkg/sub/deep.py", "src/pkg/core.py"),
        ("src/pkg/sub/deep.py", "src/pkg/util.py"),
    }  # `import types` is the standard library's, not src/pkg/types.py


def _edges(snapshot: object) -> set[tuple[str, str]]:
    graph = import_graph(snapshot)  # type: ignore[arg-type]
    path = {d.id: d.path for d in snapshot.docs.values()}  # type: ignore[attr-defined]
    return {(path[a], path[b]) for a, targets in graph.items() for b in targets}


def test_a_new_file_row_that_takes_a_deleted_ones_id_is_read_for_its_own_imports(
        tmp_path: Path, options: ContextOptions) -> None:
    # A file deleted from the working tree leaves its row unused; it is collected, and SQLite gives
    # its id to the next new row. What was parsed under that id must not stand for the new file.
    repo = make_repo(tmp_path / "repo", {
        "app/a.py": "X = 1\n", "app/b.py": "Y = 2\n", "app/c.py": "import app.a\n", "app/d.py": "Z = 3\n",
    })
    index, _ = _open(repository_root(repo, "workspace"), options)
    assert _edges(index.snapshot(None)) == {("app/c.py", "app/a.py")}
    (repo / "app/c.py").write_text("import app.b\n")  # the newest row
    assert _edges(index.snapshot(None)) == {("app/c.py", "app/b.py")}
    (repo / "app/c.py").unlink()  # its row is collected
    assert _edges(index.snapshot(None)) == set()
    (repo / "app/d.py").write_text("W = 4\n")  # a new row, with the collected row's id
    snapshot = index.snapshot(None)
    assert _edges(snapshot) == set()
