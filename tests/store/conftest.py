"""Store fixtures: every store test runs on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL: `PWM_TEST_PG_URL` names a server (`.ci/postgres.sh` starts one; CI always does);
each test gets its own fresh schema there, dropped afterwards. Without a reachable server the
PostgreSQL cases are skipped — except under CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from server.store import Store
from tests.store.helpers import pg_schema_url

BACKENDS = ["sqlite", "postgresql"]


def _pg_base_url() -> str:
    url = os.environ.get("PWM_TEST_PG_URL", "")
    problem = "PWM_TEST_PG_URL is not set"
    if url:
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=3):
                return url
        except Exception as exc:  # any failure to reach it: report it below
            problem = f"PostgreSQL at PWM_TEST_PG_URL is not reachable: {exc}"
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI must run the PostgreSQL store tests: see .ci/postgres.sh)")
    pytest.skip(f"{problem} (start one with: eval \"$(bash .ci/postgres.sh start)\")")


@pytest.fixture(params=BACKENDS)
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str | Path]]:
    """Make a fresh database by name: a SQLite file, or a PostgreSQL URL on a fresh schema."""
    if request.param == "sqlite":
        yield lambda name: tmp_path / "state" / f"{name}.db"
        return
    base = _pg_base_url()
    import psycopg

    schemas: list[str] = []

    def make(name: str) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return pg_schema_url(base, schema)

    try:
        yield make
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def db(new_db: Callable[[str], str | Path]) -> str | Path:
    """Where the store lives: a SQLite file path, or a PostgreSQL URL (a fresh schema)."""
    return new_db("pwm")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A SQLite file, for the tests of what is particular to SQLite (files, locks, directories)."""
    return tmp_path / "state" / "pwm.db"


@pytest.fixture
async def store(db: str | Path) -> AsyncIterator[Store]:
    s = await Store.open(db)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL on a fresh schema, for what is particular to PostgreSQL."""
    base = _pg_base_url()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield pg_schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
