"""Move one store's history into another (`parallel-work-manager migrate --from … --to …`).

Typically a developer's SQLite file into the team's PostgreSQL. Both stores are opened the usual
way (so the target gets every migration first), then, in one target transaction: groups and
tasks keep their ids (random, so they do not collide with the team's); attempts get new ids in
the target (validations follow them); per-day ledger totals are added to the target's; learned
cost ratios are merged, the higher ratio kept (the conservative one for budgets).

Refused, with nothing written: a source with calls or groups still running under a live server
(stop it first: a dead one's are settled by `recover()` before copying), and a source whose
groups are already in the target (it was migrated before).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from server.errors import StoreError
from server.store.store import Store

__all__ = ["TransferReport", "transfer"]

# Columns copied as they are, per table, in foreign-key order.
_KEEP_IDS = ("groups", "tasks")


@dataclass(frozen=True)
class TransferReport:
    groups: int
    tasks: int
    attempts: int
    validations: int
    ledger_days: int
    models: int


def _dump(conn: sqlite3.Connection) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for table in ("groups", "tasks", "attempts", "validations", "ledger_days", "model_costs",
                  "thread_messages", "thread_context"):
        cursor = conn.execute(f"SELECT * FROM {table}")
        rows = [tuple(r) for r in cursor.fetchall()]
        out[table] = ([d[0] for d in cursor.description], rows)
    return out


def _running(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM attempts WHERE status = 'running')"
        " + (SELECT count(*) FROM groups WHERE status = 'running')"
    ).fetchone()
    return int(row[0])


def _insert(conn: sqlite3.Connection, table: str, columns: list[str], row: tuple[Any, ...],
            returning: bool = False) -> Any:
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if returning:
        return conn.execute(sql + " RETURNING id", row).fetchone()[0]
    conn.execute(sql, row)
    return None


def _load(conn: sqlite3.Connection, data: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> TransferReport:
    group_cols, groups = data["groups"]
    ids = [g[group_cols.index("id")] for g in groups]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        clash = conn.execute(
            f"SELECT id FROM groups WHERE id IN ({', '.join('?' * len(chunk))}) LIMIT 1", tuple(chunk)
        ).fetchone()
        if clash is not None:
            raise StoreError(f"group {clash[0]} is already in the target: this history was migrated before")
    for table in _KEEP_IDS:
        columns, rows = data[table]
        for row in rows:
            _insert(conn, table, columns, row)
    columns, rows = data["attempts"]
    id_at = columns.index("id")
    copy_cols = [c for c in columns if c != "id"]
    new_ids: dict[int, int] = {}
    for row in rows:
        values = tuple(v for i, v in enumerate(row) if i != id_at)
        new_ids[row[id_at]] = _insert(conn, "attempts", copy_cols, values, returning=True)
    columns, rows = data["validations"]
    at = columns.index("attempt_id")
    for row in rows:
        _insert(conn, "validations", columns, tuple(new_ids[v] if i == at else v for i, v in enumerate(row)))
    columns, rows = data["thread_messages"]  # continue_task's threads: new ids, same order
    keep = [i for i, c in enumerate(columns) if c != "id"]
    for row in rows:
        _insert(conn, "thread_messages", [columns[i] for i in keep], tuple(row[i] for i in keep))
    columns, rows = data["thread_context"]
    for row in rows:
        _insert(conn, "thread_context", columns, row)
    columns, days = data["ledger_days"]
    for row in days:
        day = dict(zip(columns, row, strict=True))
        conn.execute(
            "INSERT INTO ledger_days (day, settled_usd, calls) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE"
            " SET settled_usd = ledger_days.settled_usd + excluded.settled_usd,"
            " calls = ledger_days.calls + excluded.calls",
            (day["day"], day["settled_usd"], day["calls"]),
        )
    columns, models = data["model_costs"]
    for row in models:
        conn.execute(
            f"INSERT INTO model_costs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            " ON CONFLICT (model_id) DO UPDATE SET ratio = excluded.ratio, ratio_samples = excluded.ratio_samples,"
            " mean_cost = excluded.mean_cost, cost_samples = excluded.cost_samples, updated_at = excluded.updated_at"
            " WHERE excluded.ratio > model_costs.ratio",
            row,
        )
    return TransferReport(len(groups), len(data["tasks"][1]), len(data["attempts"][1]),
                          len(data["validations"][1]), len(days), len(models))


async def transfer(source: Store, target: Store) -> TransferReport:
    """Copy `source`'s history into `target` in one target transaction.

    Raises:
        StoreError: something is still running in the source, the history is already in the
            target, or either database fails (then nothing was written to the target).
    """
    await source.recover()  # a dead server's calls are settled first
    running = await source._run(_running)
    if running:
        raise StoreError(
            f"{running} call(s) or group(s) are still running in {source.target.describe()}: stop the"
            " servers using it, then migrate"
        )
    data = await source._read(_dump)
    return await target._write(_load, data)
