"""Fixtures shared by the context tests: the small real repository and cache options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.context import ContextOptions, close_indexes
from tests.context.helpers import make_context_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_context_repo(tmp_path / "repo")


@pytest.fixture
def options(tmp_path: Path) -> Iterator[ContextOptions]:
    yield ContextOptions(tmp_path / "cache")
    close_indexes()
