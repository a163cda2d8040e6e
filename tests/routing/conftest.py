"""Catalogues for routing tests: a small fixture catalogue, and the shipped one."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.catalog import Catalog, load_catalog

FIXTURE_MANIFESTS = Path(__file__).resolve().parent / "fixtures" / "manifests"


@pytest.fixture(scope="session")
def fixture_catalog() -> Catalog:
    """Twelve models and six agents chosen to exercise every rule (tests/routing/fixtures)."""
    return load_catalog(base=FIXTURE_MANIFESTS)


@pytest.fixture(scope="session")
def shipped_catalog() -> Catalog:
    return load_catalog()
