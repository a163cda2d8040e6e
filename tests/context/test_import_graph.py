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
