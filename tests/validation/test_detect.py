"""Project detection: several languages and projects per tree, dependency dirs skipped."""

from __future__ import annotations

from pathlib import Path

from server.validation.detect import detect_projects
from server.validation.languages import LANGUAGES
from tests.validation.helpers import write_files


def test_finds_each_language_and_nested_projects(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pyproject.toml": "",
            "app/main.py": "",
            "services/api/setup.py": "",
            "services/api/api.py": "",
            "web/package.json": "{}",
            "web/index.js": "",
            "web/node_modules/dep/index.js": "",
            "crates/Cargo.toml": "[workspace]\nmembers = ['a']\n",
            "crates/a/Cargo.toml": "[package]\n",
            "crates/a/src/lib.rs": "",
            "crates/target/debug/junk.rs": "",
            "tools/go.mod": "module x\n",
            "tools/main.go": "",
            ".venv/lib/site.py": "",
        },
    )
    found = detect_projects(tmp_path.resolve(), LANGUAGES)
    summary = {(p.language, p.rel) for p in found.projects}
    assert summary == {
        ("python", "."),
        ("python", "services/api"),
        ("node", "web"),
        ("rust", "crates"),
        ("go", "tools"),
    }
    root_py = next(p for p in found.projects if p.language == "python" and p.rel == ".")
    assert {s.name for s in root_py.sources} == {"main.py"}  # api.py belongs to the nested project
    web = next(p for p in found.projects if p.language == "node")
    assert [s.name for s in web.sources] == ["index.js"]


def test_loose_scripts_form_an_implicit_project(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "", "lib/b.py": "", "c.js": ""})
    found = detect_projects(tmp_path.resolve(), LANGUAGES)
    assert {(p.language, p.rel, p.markers) for p in found.projects} == {("python", ".", ()), ("node", ".", ())}


def test_empty_tree_has_no_projects(tmp_path: Path) -> None:
    assert detect_projects(tmp_path.resolve(), LANGUAGES).projects == []
