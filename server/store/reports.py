"""Read-only queries over the attempts for status views, performance tracking and reports.

All filter on `attempts.started_at` (indexed, also with `model_id`); grouping by agent or
policy joins the task and group rows. Percentiles are left to the caller: `latency_samples`
returns just the numbers, which is cheap even for a month of calls.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from server.errors import InputError
from server.store.base import StoreBase
from server.store.records import AggregateRow, AttemptRecord

__all__ = ["GROUP_BY", "ReportsMixin"]

_ATTEMPT_COLS = (
    "a.id, a.task_id, a.group_id, a.owner, a.model_id, a.provider, a.variant, a.paid, a.status,"
    " a.reserved_usd, a.cost_usd, a.charged_usd, a.cost_source, a.input_tokens, a.output_tokens,"
    " a.cached_tokens, a.reasoning_tokens, a.latency_ms, a.first_token_ms, a.error_class,"
    " a.error_message, a.generation_id, a.http_status, a.day, a.started_at, a.finished_at, a.repo"
)
# Key expression per grouping; tasks and groups are joined only when the key needs them.
GROUP_BY: dict[str, tuple[str, str]] = {
    "model": ("a.model_id", ""),
    "provider": ("a.provider", ""),
    "day": ("a.day", ""),
    "group": ("coalesce(a.group_id, '(none)')", ""),
    "agent": ("coalesce(t.agent, '(none)')", " LEFT JOIN tasks t ON t.id = a.task_id"),
    "variant": ("coalesce(a.variant, '(none)')", ""),
    "policy": ("coalesce(g.policy, '(none)')", " LEFT JOIN groups g ON g.id = a.group_id"),
}


def _attempt(row: Sequence[Any]) -> AttemptRecord:
    rec = AttemptRecord(*row)
    rec.paid = bool(rec.paid)
    return rec


def _key(group_by: str) -> tuple[str, str]:
    try:
        return GROUP_BY[group_by]
    except KeyError:
        raise InputError("group_by", f"unknown grouping {group_by!r}", ", ".join(GROUP_BY)) from None


def _window(since: float, until: float | None) -> tuple[str, tuple[Any, ...]]:
    if until is None:
        return "a.started_at >= ?", (since,)
    return "a.started_at >= ? AND a.started_at < ?", (since, until)


def _fetch(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return conn.execute(sql, params).fetchall()


class ReportsMixin(StoreBase):
    async def attempts_since(
        self, ts: float, model_id: str | None = None, until: float | None = None
    ) -> list[AttemptRecord]:
        """Attempts started at or after `ts` (and before `until`), oldest first."""
        where, params = _window(ts, until)
        if model_id is not None:
            where, params = f"a.model_id = ? AND {where}", (model_id, *params)
        rows = await self._run(
            _fetch, f"SELECT {_ATTEMPT_COLS} FROM attempts a WHERE {where} ORDER BY a.started_at", params
        )
        return [_attempt(r) for r in rows]

    async def list_attempts(
        self, *, task_id: str | None = None, group_id: str | None = None
    ) -> list[AttemptRecord]:
        """A task's or a group's attempts in the order they were made (the path taken)."""
        if (task_id is None) == (group_id is None):
            raise InputError("task_id/group_id", "give exactly one of them")
        column, value = ("task_id", task_id) if task_id is not None else ("group_id", group_id)
        rows = await self._run(
            _fetch, f"SELECT {_ATTEMPT_COLS} FROM attempts a WHERE a.{column} = ? ORDER BY a.id", (value,)
        )
        return [_attempt(r) for r in rows]

    async def aggregate(
        self, since: float, group_by: str = "model", until: float | None = None
    ) -> list[AggregateRow]:
        """Spend, calls, tokens and outcomes per key (model, provider, agent, variant, policy,
        group or day) over the attempts started in [since, until), biggest spend first.

        Raises:
            InputError: unknown `group_by`.
        """
        key, join = _key(group_by)
        where, params = _window(since, until)
        sql = (
            f"SELECT {key} AS k, count(*), sum(CASE WHEN a.status = 'succeeded' THEN 1 ELSE 0 END),"
            " sum(CASE WHEN a.status NOT IN ('succeeded', 'running') THEN 1 ELSE 0 END), sum(a.charged_usd), sum(a.reserved_usd),"
            " sum(a.input_tokens), sum(a.output_tokens), sum(a.cached_tokens), sum(a.reasoning_tokens),"
            " avg(a.latency_ms)"
            f" FROM attempts a{join} WHERE {where} GROUP BY k ORDER BY sum(a.charged_usd) DESC, k"
        )
        rows = await self._run(_fetch, sql, params)
        return [AggregateRow(*r) for r in rows]

    async def latency_samples(
        self, since: float, group_by: str = "model", until: float | None = None,
        status: str | None = "succeeded",
    ) -> dict[str, list[float]]:
        """Latencies (ms) per key for percentile figures; only `status` attempts unless None."""
        key, join = _key(group_by)
        where, params = _window(since, until)
        if status is not None:
            where, params = f"{where} AND a.status = ?", (*params, status)
        sql = f"SELECT {key}, a.latency_ms FROM attempts a{join} WHERE {where} AND a.latency_ms IS NOT NULL"
        out: dict[str, list[float]] = {}
        for k, ms in await self._run(_fetch, sql, params):
            out.setdefault(k, []).append(ms)
        return out
