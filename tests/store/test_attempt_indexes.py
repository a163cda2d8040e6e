"""The indexes on `attempts` are maintained on every call: only those a query needs (m009)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from server.store import MIGRATIONS, Store
from server.store.ledger import _caller_usage


def _indexes(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'attempts'"
                             " AND sql IS NOT NULL"))


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


async def test_a_database_made_before_m009_is_narrowed_and_its_budget_queries_still_use_an_index(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    names = [m.__name__ for m in MIGRATIONS]
    old = sqlite3.connect(db, isolation_level=None)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for migration in MIGRATIONS[: names.index("m009_lighter_attempt_indexes")]:
        migration(old)
        old.execute("INSERT INTO _migrations VALUES (?, ?)", (migration.__name__, time.time()))
    old.execute("INSERT INTO attempts (owner, model_id, provider, paid, status, reserved_usd, day, started_at,"
                " user_name, team) VALUES ('o', 'm', 'p', 1, 'running', 0.5, '2026-01-02', 1.0, 'ann', 'red')")
    old.close()

    store = await Store.open(db)
    await store.close()
    assert store.applied_migrations == ["m009_lighter_attempt_indexes"]
    with sqlite3.connect(db) as conn:
        indexes = _indexes(conn)
        assert "attempts_model_started" not in indexes
        assert "WHERE user_name IS NOT NULL" in indexes["attempts_user_day"]
        assert "WHERE team IS NOT NULL" in indexes["attempts_team_day"]
        for column, key in (("user_name", "ann"), ("team", "red")):
            sql = f"SELECT sum(reserved_usd) FROM attempts WHERE {column} = ? AND day = ?"
            assert f"USING INDEX attempts_{'user' if column == 'user_name' else 'team'}_day" in _plan(
                conn, sql, (key, "2026-01-02"))
        # The user's and the team's daily budgets see the call reserved before the migration.
        usage = _caller_usage(conn, "ann", "red", 2.0, 3.0, "2026-01-02")
        assert usage == [("user ann daily", 2.0, 0.0, 0.5), ("team red daily", 3.0, 0.0, 0.5)]
        # A ratio rise finds a model's calls in flight among the running ones, not by a scan.
        assert "attempts_running" in _plan(
            conn, "UPDATE attempts SET reserved_usd = estimate_usd * ?1 WHERE model_id = ?2 AND status = 'running'"
                  " AND estimate_usd * ?1 > reserved_usd", (2.0, "m"))
