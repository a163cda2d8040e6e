"""The budget ledger: reserve before a model call, settle after it, each in one transaction.

Spend in a period = settled cost of the calls started in it + reservations of calls still
running. Periods follow the local calendar: the day from local midnight, the week from Monday,
the month from the 1st; a call counts in the period it started in. Settled cost is summed per
day in `ledger_days` (so a monthly check reads at most 31 rows); reservations live only on the
running attempt rows (a partial index holds just those), so releasing one is flipping its row.

What a settled call is charged: the cost reported or priced (`cost`), else, for a paid call
that succeeded with no known cost, its reservation (an unknown price is never booked as $0),
else 0 (a failed call with no reported cost). `update_attempt_cost` later corrects the charge.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from server.errors import BudgetRefused, InputError, NotFoundError
from server.store.base import StoreBase, day_key, local_midnight, now_ts
from server.store.records import (
    ATTEMPT_SETTLED_STATUSES,
    AttemptRecord,
    BudgetLimits,
    BudgetStatus,
    PeriodStatus,
)

__all__ = ["BudgetRefused", "LedgerMixin", "period_bounds", "settle_row"]

# Slack for float sums: 50 calls of $0.01 must fit a $0.50 budget.
_EPS = 1e-9


def period_bounds(now: float) -> dict[str, tuple[float, float]]:
    """(start, reset) timestamps of the current daily, weekly and monthly periods (local time)."""
    today = date.fromtimestamp(now)
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return {
        "daily": (local_midnight(today), local_midnight(today + timedelta(days=1))),
        "weekly": (local_midnight(monday), local_midnight(monday + timedelta(days=7))),
        "monthly": (local_midnight(first), local_midnight(next_month)),
    }


@dataclass(frozen=True)
class _Call:
    task_id: str | None
    group_id: str | None
    owner: str
    model_id: str
    provider: str
    variant: str | None
    paid: bool
    reserve: float
    day: str
    now: float


def _sum_pair(conn: sqlite3.Connection, column: str, value: str) -> tuple[float, float]:
    row = conn.execute(
        f"SELECT coalesce(sum(charged_usd), 0), coalesce(sum(reserved_usd), 0) FROM attempts"
        f" WHERE {column} = ?", (value,),
    ).fetchone()
    return float(row[0]), float(row[1])


def _calendar_spend(conn: sqlite3.Connection, now: float) -> dict[str, tuple[float, float]]:
    starts = {name: day_key(start) for name, (start, _) in period_bounds(now).items()}
    spent = dict.fromkeys(starts, 0.0)
    reserved = dict.fromkeys(starts, 0.0)
    for day, amount in conn.execute(
        "SELECT day, settled_usd FROM ledger_days WHERE day >= ?", (min(starts.values()),)
    ):
        for name, start in starts.items():
            if day >= start:
                spent[name] += amount
    for day, amount in conn.execute(
        "SELECT day, reserved_usd FROM attempts WHERE status = 'running' AND reserved_usd > 0"
    ):
        for name, start in starts.items():
            if day >= start:
                reserved[name] += amount
    return {name: (spent[name], reserved[name]) for name in starts}


def _usage(conn: sqlite3.Connection, limits: BudgetLimits, task_id: str | None, group_id: str | None,
           now: float) -> list[tuple[str, float, float, float]]:
    """(budget, limit, spent, reserved) for every limit that applies, most specific first."""
    out: list[tuple[str, float, float, float]] = []
    if limits.per_task is not None and task_id is not None:
        out.append(("per-task", limits.per_task, *_sum_pair(conn, "task_id", task_id)))
    if limits.group is not None and group_id is not None:
        out.append(("group", limits.group, *_sum_pair(conn, "group_id", group_id)))
    if any(x is not None for x in (limits.daily, limits.weekly, limits.monthly)):
        spend = _calendar_spend(conn, now)
        for name in ("daily", "weekly", "monthly"):
            limit = getattr(limits, name)
            if limit is not None:
                out.append((name, limit, *spend[name]))
    return out


def _begin(conn: sqlite3.Connection, call: _Call, limits: BudgetLimits) -> int:
    if call.paid:
        for budget, limit, spent, reserved in _usage(conn, limits, call.task_id, call.group_id, call.now):
            cap = limit * limits.stop_at
            used = spent + reserved
            # The second test stops a zero-estimate paid call (unknown price) once the cap is hit.
            if used + call.reserve > cap + _EPS or used >= cap - _EPS:
                raise BudgetRefused(budget, limit, spent, reserved, call.reserve, limits.stop_at)
    try:
        attempt_id: int = conn.execute(
            "INSERT INTO attempts (task_id, group_id, owner, model_id, provider, variant, paid, status,"
            " reserved_usd, day, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id",
            (call.task_id, call.group_id, call.owner, call.model_id, call.provider, call.variant,
             int(call.paid), call.reserve, call.day, call.now),
        ).fetchone()[0]
    except sqlite3.IntegrityError as exc:  # the foreign keys: an unknown task or group
        raise NotFoundError(f"no task {call.task_id!r} in group {call.group_id!r}") from exc
    if call.task_id is not None:
        conn.execute(
            "UPDATE tasks SET attempts = attempts + 1, model_used = ?, updated_at = ? WHERE id = ?",
            (call.model_id, call.now, call.task_id),
        )
    return attempt_id


def _book(conn: sqlite3.Connection, day: str, amount: float, calls: int) -> None:
    conn.execute(
        "INSERT INTO ledger_days (day, settled_usd, calls) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE"
        " SET settled_usd = settled_usd + excluded.settled_usd, calls = calls + excluded.calls",
        (day, amount, calls),
    )


def settle_row(conn: sqlite3.Connection, attempt_id: int, values: dict[str, Any], now: float) -> float | None:
    """Settle one running attempt inside the caller's transaction; its charge, None if not running."""
    row = conn.execute(
        "SELECT task_id, day, reserved_usd, paid FROM attempts WHERE id = ? AND status = 'running'",
        (attempt_id,),
    ).fetchone()
    if row is None:
        return None
    task_id, day, reserved, paid = row
    cost = values["cost"]
    if cost is not None:
        charged = float(cost)
    else:
        charged = reserved if (values["status"] == "succeeded" and paid) else 0.0
    conn.execute(
        "UPDATE attempts SET status = ?, reserved_usd = 0, cost_usd = ?, charged_usd = ?, cost_source = ?,"
        " input_tokens = ?, output_tokens = ?, cached_tokens = ?, reasoning_tokens = ?, latency_ms = ?,"
        " first_token_ms = ?, error_class = ?, error_message = ?, generation_id = ?, http_status = ?,"
        " finished_at = ? WHERE id = ?",
        (values["status"], cost, charged, values["cost_source"], values["input_tokens"],
         values["output_tokens"], values["cached_tokens"], values["reasoning_tokens"],
         values["latency_ms"], values["first_token_ms"], values["error_class"], values["error_message"],
         values["generation_id"], values["http_status"], now, attempt_id),
    )
    _book(conn, day, charged, 1)
    if task_id is not None:
        conn.execute(
            "UPDATE tasks SET cost_usd = cost_usd + ?, input_tokens = input_tokens + ?,"
            " output_tokens = output_tokens + ?, cached_tokens = cached_tokens + ?,"
            " reasoning_tokens = reasoning_tokens + ?, updated_at = ? WHERE id = ?",
            (charged, values["input_tokens"], values["output_tokens"], values["cached_tokens"],
             values["reasoning_tokens"], now, task_id),
        )
    return charged


def _settle(conn: sqlite3.Connection, attempt_id: int, values: dict[str, Any], now: float) -> bool:
    return settle_row(conn, attempt_id, values, now) is not None


def _recost(conn: sqlite3.Connection, attempt_id: int, cost: float, source: str) -> bool:
    row = conn.execute(
        "SELECT task_id, day, charged_usd FROM attempts WHERE id = ? AND status != 'running'", (attempt_id,)
    ).fetchone()
    if row is None:
        return False
    task_id, day, charged = row
    delta = cost - charged
    conn.execute("UPDATE attempts SET cost_usd = ?, charged_usd = ?, cost_source = ? WHERE id = ?",
                 (cost, cost, source, attempt_id))
    _book(conn, day, delta, 0)
    if task_id is not None:
        conn.execute("UPDATE tasks SET cost_usd = cost_usd + ? WHERE id = ?", (delta, task_id))
    return True


def _state(fraction: float | None, limits: BudgetLimits) -> str:
    if fraction is None:
        return "ok"
    if fraction >= limits.stop_at - _EPS:
        return "stop"
    return "warn" if fraction >= limits.warn_at else "ok"


def _status(conn: sqlite3.Connection, limits: BudgetLimits, group_id: str | None, now: float) -> BudgetStatus:
    periods: list[PeriodStatus] = []
    bounds = period_bounds(now)
    for name, (spent, reserved) in _calendar_spend(conn, now).items():
        limit = getattr(limits, name)
        fraction = (spent + reserved) / limit if limit else (None if limit is None else math.inf)
        periods.append(PeriodStatus(name, limit, spent, reserved, fraction, _state(fraction, limits),
                                    *bounds[name]))
    if group_id is not None:
        spent, reserved = _sum_pair(conn, "group_id", group_id)
        limit = limits.group
        fraction = (spent + reserved) / limit if limit else (None if limit is None else math.inf)
        periods.append(PeriodStatus("group", limit, spent, reserved, fraction, _state(fraction, limits),
                                    None, None))
    order = {"ok": 0, "warn": 1, "stop": 2}
    return BudgetStatus(periods, max((p.state for p in periods), key=order.__getitem__, default="ok"))


def _check_money(field: str, value: float | None) -> None:
    if value is not None and (math.isnan(value) or value < 0):
        raise InputError(field, f"must be a non-negative amount in USD, got {value}")


class LedgerMixin(StoreBase):
    async def begin_attempt(
        self, task_id: str | None, group_id: str | None, model_id: str, provider: str,
        variant: str | None, reserve_usd: float | None, paid: bool, limits: BudgetLimits,
        *, now: float | None = None,
    ) -> AttemptRecord:
        """Check the budgets and record a running attempt holding `reserve_usd`, atomically.

        Call it before the model call; make the call only if it returns.

        Raises:
            BudgetExceeded: (a `BudgetRefused`) a paid call would pass a limit; nothing stored.
            NotFoundError: unknown task or group.
            StoreError: the database cannot be written; do not make the call.
        """
        _check_money("reserve_usd", reserve_usd)
        ts = now_ts() if now is None else now
        call = _Call(task_id, group_id, self.owner, model_id, provider, variant, paid,
                     float(reserve_usd or 0.0), day_key(ts), ts)
        attempt_id = await self._write(_begin, call, limits)
        return AttemptRecord(
            attempt_id, task_id, group_id, self.owner, model_id, provider, variant, paid, "running",
            call.reserve, None, 0.0, None, 0, 0, 0, 0, None, None, None, None, None, None, call.day, ts, None,
        )

    async def settle_attempt(
        self, attempt_id: int, *, status: str, input_tokens: int = 0, output_tokens: int = 0,
        cached_tokens: int = 0, reasoning_tokens: int = 0, cost: float | None = None,
        cost_source: str = "unknown", latency_ms: float | None = None, first_token_ms: float | None = None,
        error_class: str | None = None, error_message: str | None = None, generation_id: str | None = None,
        http_status: int | None = None, now: float | None = None,
    ) -> bool:
        """Record the outcome, release the reservation and charge the task, in one transaction.

        Returns False (and changes nothing) when the attempt is not running: already settled,
        or settled by `recover()` — a call is never charged twice.
        """
        if status not in ATTEMPT_SETTLED_STATUSES:
            raise InputError("status", f"cannot settle an attempt as {status!r}", ", ".join(ATTEMPT_SETTLED_STATUSES))
        _check_money("cost", cost)
        values = {
            "status": status, "cost": cost, "cost_source": cost_source, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "cached_tokens": cached_tokens,
            "reasoning_tokens": reasoning_tokens, "latency_ms": latency_ms,
            "first_token_ms": first_token_ms, "error_class": error_class,
            "error_message": error_message, "generation_id": generation_id, "http_status": http_status,
        }
        return await self._write(_settle, attempt_id, values, now_ts() if now is None else now)

    async def update_attempt_cost(self, attempt_id: int, cost: float, source: str) -> bool:
        """Correct a settled attempt's cost (e.g. from OpenRouter's generation endpoint).

        The budgets and the task's total move by the difference. False if the attempt is
        unknown or still running.
        """
        _check_money("cost", cost)
        return await self._write(_recost, attempt_id, float(cost), source)

    async def budget_status(
        self, limits: BudgetLimits, group_id: str | None = None, *, now: float | None = None
    ) -> BudgetStatus:
        """Spend and reservations per period against `limits`, each ok | warn | stop."""
        return await self._read(_status, limits, group_id, now_ts() if now is None else now)

    async def spend_since(self, ts: float) -> float:
        """Settled cost plus live reservations of the calls started at or after `ts`."""
        row = await self._run(lambda c: c.execute(
            "SELECT coalesce(sum(charged_usd + reserved_usd), 0) FROM attempts WHERE started_at >= ?",
            (ts,)).fetchone())
        return float(row[0])
