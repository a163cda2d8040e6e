"""Validation reports of model answers (patches checked in a temporary worktree), per attempt."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from server.store.base import StoreBase

__all__ = ["ValidationRecord", "ValidationsMixin"]


@dataclass(frozen=True)
class ValidationRecord:
    attempt_id: int
    task_id: str
    group_id: str
    passed: bool
    status: str
    base_commit: str | None
    report_json: str
    created_at: float


def _insert(conn: sqlite3.Connection, row: tuple[object, ...]) -> None:
    conn.execute(
        "INSERT INTO validations (attempt_id, task_id, group_id, passed, status, base_commit,"
        " report_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (attempt_id) DO UPDATE SET"
        " task_id = excluded.task_id, group_id = excluded.group_id, passed = excluded.passed,"
        " status = excluded.status, base_commit = excluded.base_commit,"
        " report_json = excluded.report_json, created_at = excluded.created_at",
        row,
    )


def _select(conn: sqlite3.Connection, column: str, value: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT attempt_id, task_id, group_id, passed, status, base_commit, report_json, created_at"
        f" FROM validations WHERE {column} = ? ORDER BY attempt_id",
        (value,),
    ).fetchall()


class ValidationsMixin(StoreBase):
    async def record_validation(
        self,
        attempt_id: int,
        task_id: str,
        group_id: str,
        *,
        passed: bool,
        status: str,
        base_commit: str | None,
        report_json: str,
    ) -> None:
        """Keep the validation report of one attempt's answer."""
        row = (attempt_id, task_id, group_id, int(passed), status, base_commit, report_json, time.time())
        await self._run(_insert, row)

    async def list_validations(
        self, *, task_id: str | None = None, group_id: str | None = None
    ) -> list[ValidationRecord]:
        """The validation reports of a task's or a group's attempts, oldest first."""
        column, value = ("task_id", task_id) if task_id is not None else ("group_id", group_id or "")
        rows = await self._run(_select, column, value)
        return [
            ValidationRecord(int(r[0]), str(r[1]), str(r[2]), bool(r[3]), str(r[4]),  # type: ignore[call-overload]
                             None if r[5] is None else str(r[5]), str(r[6]), float(r[7]))  # type: ignore[arg-type]
            for r in rows
        ]
