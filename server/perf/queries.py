"""The SQL the performance code reads, on its own read-only connection to the store's file.

Reports and the dashboard scan thousands of attempt rows; doing that on the store's single
writer connection would hold up the scheduler's writes, so `PerfReader` opens a second aiosqlite
connection (WAL lets readers run beside the writer) with `query_only` set. It never writes.

Columns other helpers may add later are picked up when present (`PRAGMA table_info`):
`tasks.task_type` / `attempts.task_type`, and `attempts.validation_passed`; until then the task
type is read from the routing plan (`tasks.plan_json` → `$.task_type` or `$.analysis.task_type`)
and a validated answer's verdict from its `validations` row. `attempts.repo` (m008) is read
when the database has it (a reader may open a file an older server wrote).

On PostgreSQL there is no file to open: `PerfReader.for_store(store)` runs the same queries on
that Store's own connection (written portably; the plan's task type is read in Python there),
so every server sharing the database sees every server's attempts.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from server.errors import StoreError
from server.perf.stats import AttemptFact

if TYPE_CHECKING:
    from server.store import Store

__all__ = ["OBJECTIVE_FAILURE_CLASSES", "PerfReader", "fact_from_attempt"]

# Error classes a scheduler records when a call answered but its output failed an objective
# check; they count against validation pass rates as well as success rates.
OBJECTIVE_FAILURE_CLASSES: frozenset[str] = frozenset(
    {"validation_failed", "checks_failed", "patch_failed", "unparseable", "parse_failed"}
)
# An answer whose asked-for checks could not run (the verdict 'unchecked', not passed: a test runner
# not installed) was judged by nothing: it is read as `validation_unavailable`, which says nothing
# about the model (`server.perf.stats.NEUTRAL_ERROR_CLASSES`), not as a failed validation.
_UNCHECKED = "(v.status = 'unchecked' AND v.passed = 0)"


def fact_from_attempt(
    attempt: Any,
    *,
    task_type: str = "",
    agent: str = "",
    validation_passed: bool | None = None,
    policy: str = "",
    group_name: str = "",
) -> AttemptFact:
    """An `AttemptFact` from the store's `AttemptRecord` (or any object with its fields).

    For the scheduler's hook: settle the attempt, then `tracker.record(fact_from_attempt(...))`.
    """
    error_class = getattr(attempt, "error_class", None)
    if validation_passed is None and error_class in OBJECTIVE_FAILURE_CLASSES:
        validation_passed = False
    return AttemptFact(
        model_id=attempt.model_id,
        status=attempt.status,
        started_at=float(attempt.started_at),
        provider=attempt.provider or "",
        task_type=task_type,
        variant=attempt.variant or "",
        agent=agent,
        error_class=error_class,
        http_status=getattr(attempt, "http_status", None),
        input_tokens=int(attempt.input_tokens or 0),
        output_tokens=int(attempt.output_tokens or 0),
        cached_tokens=int(attempt.cached_tokens or 0),
        reasoning_tokens=int(attempt.reasoning_tokens or 0),
        cost=attempt.cost_usd,
        charged=getattr(attempt, "charged_usd", None),
        cost_source=attempt.cost_source or "",
        latency_ms=attempt.latency_ms,
        first_token_ms=attempt.first_token_ms,
        validation_passed=validation_passed,
        attempt_id=attempt.id,
        group_id=attempt.group_id,
        policy=policy,
        group_name=group_name,
        day=getattr(attempt, "day", "") or "",
        repo=getattr(attempt, "repo", None) or "",
    )


class PerfReader:
    """A read-only view of the state database for reports, the dashboard and the tracker."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.where = str(self.db_path)  # the database, for reports and messages
        self._db: aiosqlite.Connection | None = None
        self._store: Store | None = None
        self._columns: dict[str, set[str]] = {}

    @classmethod
    def for_store(cls, store: Store) -> PerfReader:
        """A reader of `store`'s database: its own read-only connection to a SQLite file, or, on
        PostgreSQL, the store's connection (the caller keeps the store open while reading)."""
        reader = cls(store.path)
        if store.kind == "postgresql":
            reader._store = store
            reader.where = store._live().where
        return reader

    async def __aenter__(self) -> PerfReader:
        await self.open()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def exists(self) -> bool:
        return self._store is not None or self.db_path.is_file()

    async def open(self) -> None:
        if self._db is not None or self._store is not None:
            return
        if not self.db_path.is_file():
            raise StoreError(f"state database {self.db_path} does not exist yet (no task has run)")
        try:
            self._db = await aiosqlite.connect(self.db_path, timeout=10.0)
            await self._db.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.db_path}: {exc}") from exc

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row | tuple[Any, ...]]:
        if self._store is not None:
            return await self._store._run(lambda conn: list(conn.execute(sql, params).fetchall()))
        await self.open()
        assert self._db is not None
        try:
            async with self._db.execute(sql, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"state database {self.db_path}: {exc}") from exc

    async def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            if self._store is not None:
                rows = await self._rows(
                    "SELECT 0, column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = ?", (table,))
            else:
                rows = await self._rows(f"PRAGMA table_info({table})")
            self._columns[table] = {str(row[1]) for row in rows}
        return self._columns[table]

    async def _task_type_expr(self) -> str:
        if "task_type" in await self.columns("attempts"):
            return "COALESCE(a.task_type, '')"
        if "task_type" in await self.columns("tasks"):
            return "COALESCE(t.task_type, '')"
        if self._store is not None:
            return "t.plan_json"  # read by `_plan_task_type` (a plan is not always valid JSON)
        return (
            "CASE WHEN json_valid(t.plan_json) THEN COALESCE(json_extract(t.plan_json, '$.task_type'),"
            " json_extract(t.plan_json, '$.analysis.task_type'), '') ELSE '' END"
        )

    async def _validation_expr(self) -> str:
        if "validation_passed" in await self.columns("attempts"):
            return "COALESCE(a.validation_passed, v.passed)"
        return "v.passed"

    async def _repo_expr(self) -> str:
        return "COALESCE(a.repo, '')" if "repo" in await self.columns("attempts") else "''"

    async def attempt_facts(self, since: float, until: float | None = None) -> list[AttemptFact]:
        """Every settled attempt started in [since, until), oldest first, with its task's facts."""
        # Columns in `AttemptFact` field order, so each row becomes a fact positionally (fast).
        sql = f"""
            SELECT a.model_id, a.status, a.started_at, a.provider, {await self._task_type_expr()},
                   COALESCE(a.variant, t.variant, ''), COALESCE(t.agent, ''),
                   CASE WHEN {_UNCHECKED} THEN 'validation_unavailable' ELSE a.error_class END, a.http_status,
                   a.input_tokens, a.output_tokens, a.cached_tokens, a.reasoning_tokens, a.cost_usd,
                   a.charged_usd, COALESCE(a.cost_source, ''), a.latency_ms, a.first_token_ms,
                   CASE WHEN {_UNCHECKED} THEN NULL ELSE {await self._validation_expr()} END, a.id, a.group_id,
                   COALESCE(g.policy, ''),
                   COALESCE(g.name, ''), a.day, {await self._repo_expr()}
            FROM attempts a
            LEFT JOIN tasks t ON t.id = a.task_id
            LEFT JOIN groups g ON g.id = a.group_id
            LEFT JOIN validations v ON v.attempt_id = a.id
            WHERE a.started_at >= ? AND a.started_at < ? AND a.status != 'running'
            ORDER BY a.started_at, a.id
        """
        rows = await self._rows(sql, (since, until if until is not None else float("inf")))
        plan_in_column = self._store is not None and (await self._task_type_expr()) == "t.plan_json"
        facts = [AttemptFact(*row) for row in rows]
        if plan_in_column:
            facts = [dataclasses.replace(f, task_type=_plan_task_type(f.task_type)) for f in facts]
        for i, fact in enumerate(facts):
            validation = fact.validation_passed
            if validation is not None:
                facts[i] = dataclasses.replace(fact, validation_passed=bool(validation))
            elif fact.error_class in OBJECTIVE_FAILURE_CLASSES:
                facts[i] = dataclasses.replace(fact, validation_passed=False)
        return facts

    async def running_groups(self, limit: int = 20) -> list[dict[str, Any]]:
        """Groups still running, newest first, with task counts by status and spend so far."""
        return await self.recent_groups(limit, running_only=True)

    async def recent_groups(self, limit: int = 20, *, running_only: bool = False) -> list[dict[str, Any]]:
        """The most recent groups (finished ones too unless `running_only`), newest first, with
        their status, task counts by status and spend so far."""
        where = "WHERE g.status = 'running'" if running_only else ""
        rows = await self._rows(
            f"""
            SELECT g.id, g.name, g.strategy, g.policy, g.created_at,
                   COUNT(t.id),
                   SUM(CASE WHEN t.status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')
                       THEN 1 ELSE 0 END),
                   SUM(CASE WHEN t.status = 'running' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN t.status = 'succeeded' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN t.status IN ('failed', 'timed_out') THEN 1 ELSE 0 END),
                   (SELECT COALESCE(SUM(a.charged_usd + a.reserved_usd), 0) FROM attempts a
                     WHERE a.group_id = g.id),
                   g.status, g.finished_at
            FROM groups g LEFT JOIN tasks t ON t.group_id = g.id
            {where}
            GROUP BY g.id ORDER BY g.created_at DESC LIMIT ?
            """,
            (limit,),
        )
        groups = []
        for r in rows:
            total = int(r[5] or 0)
            done = int(r[6] or 0)
            groups.append(
                {
                    "id": r[0], "name": r[1], "strategy": r[2], "policy": r[3], "created_at": r[4],
                    "tasks": total, "done": done, "running": int(r[7] or 0),
                    "succeeded": int(r[8] or 0), "failed": int(r[9] or 0),
                    "progress": round(done / total, 4) if total else 0.0,
                    "cost_usd": round(float(r[10] or 0.0), 6),
                    "status": r[11], "finished_at": r[12],
                }
            )
        return groups

    async def schema_info(self) -> tuple[list[str], int]:
        """(migration names applied, attempts recorded)."""
        migrations = [str(r[0]) for r in await self._rows("SELECT name FROM _migrations ORDER BY rowid")]
        count = await self._rows("SELECT COUNT(*) FROM attempts")
        return migrations, int(count[0][0])

    async def integrity_check(self) -> str:
        """SQLite's own `quick_check` verdict ('ok' when healthy; PostgreSQL checks itself)."""
        if self._store is not None:
            return "ok"
        rows = await self._rows("PRAGMA quick_check")
        return "; ".join(str(r[0]) for r in rows) or "no answer"


def _plan_task_type(plan_json: str | None) -> str:
    """The task type a routing plan names (`task_type` or `analysis.task_type`), else ''."""
    try:
        plan = json.loads(plan_json or "")
    except ValueError:
        return ""
    if not isinstance(plan, dict):
        return ""
    analysis = plan.get("analysis")
    found = plan.get("task_type")
    if found is None and isinstance(analysis, dict):
        found = analysis.get("task_type")
    return "" if found is None else str(found)
