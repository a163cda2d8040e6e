"""The README's two set-up commands are the ones CI runs."""

from __future__ import annotations

from tests.conftest import REPO

TEST_COMMAND = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest -q'
SERVE_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/parallel-work-manager serve"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert TEST_COMMAND in (REPO / "README.md").read_text()
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text()


def test_readme_gives_the_serve_command_and_registration() -> None:
    readme = (REPO / "README.md").read_text()
    assert SERVE_COMMAND in readme
    assert "claude mcp add" in readme
