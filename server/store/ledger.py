"""The budget ledger: reserve before a model call, settle after it, each in one transaction.

Spend in a period = settled cost of the calls started in it + reservations of calls still
running. Periods follow the local calendar: the day from local midnight, the week from Monday,
the month from the 1st; a call counts in the period it started in. Settled cost is summed per
day in `ledger_days` (so a monthly check reads at most 31 rows; a call charged nothing books
nothing); reservations live only on the running attempt rows (a partial index holds just
those), so releasing one is flipping its row.

What a reservation holds: the caller's realistic estimate (catalogue price, expected output)
times the model's learned actual/estimate ratio (`model_costs`; before a model's first settled
call, the highest ratio learned for its provider, else 1), capped by the maximum-output estimate
times the same ratio (at least 1). Until a model has a settled call with a known cost, its calls
hold that cap where every budget has room for it (a catalogue price may be far off), else the
scaled estimate. A model of any tier that has ever reported a cost is checked against the
budgets like a paid one, holding at least its mean cost per call.

What a settled call is charged: the cost reported or priced (`cost`), else, for a call that
reached the provider (succeeded, or cut by a cancel, a shutdown or a crash) with no known
cost, its reservation (an unknown price is never booked as $0), else 0 (a failed call with no
reported cost). `update_attempt_cost` later corrects the charge.

Learning: each settled call with a known cost moves its model's ratio (cost / estimate) and
mean cost. A higher observation is taken at once, a lower one is approached by a fifth, so
reservations catch up with a price rise on the first call and relax slowly; a rise also raises
the reservations of that model's calls still in flight (in every process: they are rows). A
call that moves neither figure (a free model's $0 once its first is known) writes nothing, so
`cost_samples` counts the calls that moved the mean, at least the first.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from server.errors import BudgetRefused, InputError, NotFoundError
from server.store.base import StoreBase, day_key, local_midnight, now_ts
from server.store.records import (
    ATTEMPT_SETTLED_STATUSES,
    AttemptRecord,
    AttemptSettlement,
    Begun,
    BudgetLimits,
    BudgetStatus,
    PeriodStatus,
)

__all__ = ["BILLED_WITHOUT_FIGURE", "TASK_CHARGE", "BudgetRefused", "Learned", "LedgerMixin", "period_bounds",
           "Settling", "add_task_charge", "read_learned", "settle_row", "settlement_values", "task_charge"]

# Outcomes of a call that reached the provider, which bills it: with no figure, the reservation is
# charged. A plain failure (an HTTP error, a refused request) is charged only what is reported.
BILLED_WITHOUT_FIGURE = frozenset({"succeeded", "interrupted", "cancelled"})

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


@dataclass
class _Call:
    """One call about to begin (not frozen, as nothing changes it: see `records.NewTask`)."""

    task_id: str | None
    group_id: str | None
    owner: str
    model_id: str
    provider: str
    variant: str | None
    paid: bool
    estimate: float
    cap: float | None
    day: str
    now: float
    repo: str | None = None


# How fast a learned figure follows an observation below it (one above is taken at once).
LEARNING_RATE = 0.2
# Attempts this process began and has not settled, remembered at most (`StoreBase._begun`).
_BEGUN_KEPT = 4096


@dataclass
class Learned:
    """What the ledger has learned of one model's real charges (not frozen, as nothing changes
    it: see `records.NewTask`)."""

    ratio: float  # provider's cost / our estimate; 1.0 until observed
    ratio_samples: int
    mean_cost: float  # USD per settled call with a known cost
    cost_samples: int


def read_learned(conn: sqlite3.Connection, model_id: str, provider: str) -> Learned:
    """The model's learned figures; before its first, the highest ratio seen for its provider."""
    row = conn.execute(
        f"SELECT {_LEARNED_COLUMNS} FROM (SELECT 1) AS one LEFT JOIN model_costs m ON m.model_id = ?1",
        (model_id, provider),
    ).fetchone()
    return _learned(row)


# A model's learned row (LEFT JOINed as `m`, its provider as ?2) in 5 columns: `_learned` reads
# them. The provider's pooled ratio is looked up only while the model has none of its own.
_LEARNED_COLUMNS = (
    "m.ratio, m.ratio_samples, m.mean_cost, m.cost_samples, CASE WHEN m.ratio_samples > 0 THEN NULL ELSE"
    " (SELECT max(ratio) FROM model_costs WHERE provider = ?2 AND ratio_samples > 0) END"
)


def _learned(row: Sequence[Any]) -> Learned:
    ratio, samples, mean, cost_samples, pooled = row
    if not samples:
        ratio = pooled if pooled is not None else 1.0
    return Learned(float(ratio), int(samples or 0), float(mean or 0.0), int(cost_samples or 0))


def _holds(call: _Call, learned: Learned) -> list[float]:
    """The reservations to try, first that fits: a model not yet learned holds its cap if it can."""
    ratio = learned.ratio
    reserve = call.estimate * ratio
    cap = None if call.cap is None else call.cap * max(ratio, 1.0)
    if cap is not None:
        reserve = min(reserve, cap)
    if not call.paid and learned.mean_cost > 0:  # it charges although the catalogue says free
        reserve = max(reserve, learned.mean_cost)
    if cap is not None and not learned.ratio_samples and cap > reserve:
        return [cap, reserve]
    return [reserve]


def _learn(conn: sqlite3.Connection, model_id: str, provider: str, estimate: float | None, cost: float,
           now: float, old: Learned) -> None:
    """Move the model's learned figures (`old`, read in this transaction) by one observed charge."""
    ratio, ratio_samples = old.ratio if old.ratio_samples else 1.0, old.ratio_samples
    if estimate is not None and estimate > 0:
        seen = cost / estimate
        ratio = seen if (not ratio_samples or seen > ratio) else ratio + LEARNING_RATE * (seen - ratio)
        ratio_samples += 1
    if ratio_samples and ratio > old.ratio + _EPS:
        # Calls of this model still in flight were reserved at the old ratio: raise them too, so
        # every process's next budget check counts them at what they will really cost.
        conn.execute(
            "UPDATE attempts SET reserved_usd = estimate_usd * ?1 WHERE model_id = ?2 AND status = 'running'"
            " AND estimate_usd * ?1 > reserved_usd",
            (ratio, model_id),
        )
    mean = old.mean_cost
    mean = cost if (not old.cost_samples or cost > mean) else mean + LEARNING_RATE * (cost - mean)
    if old.cost_samples and ratio_samples == old.ratio_samples and abs(mean - old.mean_cost) <= _EPS:
        return  # nothing learned (a free model's $0 again): no write
    conn.execute(
        "INSERT INTO model_costs (model_id, provider, ratio, ratio_samples, mean_cost, cost_samples, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET ratio = excluded.ratio,"
        " ratio_samples = excluded.ratio_samples, mean_cost = excluded.mean_cost,"
        " cost_samples = excluded.cost_samples, updated_at = excluded.updated_at",
        (model_id, provider, ratio, ratio_samples, mean, old.cost_samples + 1, now),
    )


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


def _refusal(usage: list[tuple[str, float, float, float]], reserve: float,
             limits: BudgetLimits) -> BudgetRefused | None:
    for budget, limit, spent, reserved in usage:
        cap = limit * limits.stop_at
        used = spent + reserved
        # The second test stops a zero-estimate call (unknown price) once the cap is hit.
        if used + reserve > cap + _EPS or used >= cap - _EPS:
            return BudgetRefused(budget, limit, spent, reserved, reserve, limits.stop_at)
    return None


# What a call's reservation depends on besides the limits, in one statement: the model's learned
# figures (`_LEARNED_COLUMNS`) and the user its group runs for, with their and their team's budget.
_BEGIN_READ = (
    f"SELECT {_LEARNED_COLUMNS}, g.user_name, u.team, u.budget_usd, t.budget_usd"
    " FROM (SELECT 1) AS one LEFT JOIN model_costs m ON m.model_id = ?1"
    " LEFT JOIN groups g ON g.id = ?3 LEFT JOIN users u ON u.name = g.user_name"
    " LEFT JOIN teams t ON t.name = u.team"
)


def _caller_usage(conn: sqlite3.Connection, user: str | None, team: str | None, user_budget: float | None,
                  team_budget: float | None, day: str) -> list[tuple[str, float, float, float]]:
    """Usage rows of the user a group runs for: their own and their team's daily budget."""
    out: list[tuple[str, float, float, float]] = []
    if user is None:
        return out
    for label, column, key, budget in (("user", "user_name", user, user_budget), ("team", "team", team, team_budget)):
        if key is not None and budget is not None:
            spent, reserved = conn.execute(
                f"SELECT coalesce(sum(charged_usd), 0), coalesce(sum(reserved_usd), 0) FROM attempts"
                f" WHERE {column} = ? AND day = ?", (key, day),
            ).fetchone()
            out.append((f"{label} {key} daily", float(budget), float(spent), float(reserved)))
    return out


def _begin(conn: sqlite3.Connection, call: _Call, limits: BudgetLimits,
           start_task: bool = False) -> tuple[int, float, bool, bool]:
    row = conn.execute(_BEGIN_READ, (call.model_id, call.provider, call.group_id)).fetchone()
    learned = _learned(row[:5])
    holds = _holds(call, learned)
    reserve = holds[-1]
    user, team, user_budget, team_budget = row[5:]
    caller_usage = _caller_usage(conn, user, team, user_budget, team_budget, call.day)
    if call.paid or learned.mean_cost > 0:  # every model known to charge meets the budgets
        usage = caller_usage + _usage(conn, limits, call.task_id, call.group_id, call.now)
        refused: BudgetRefused | None = None
        for reserve in holds:
            refused = _refusal(usage, reserve, limits)
            if refused is None:
                break
        if refused is not None:
            raise refused
    try:
        attempt_id: int = conn.execute(
            "INSERT INTO attempts (task_id, group_id, owner, model_id, provider, variant, paid, status,"
            " reserved_usd, estimate_usd, day, started_at, user_name, team, repo)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (call.task_id, call.group_id, call.owner, call.model_id, call.provider, call.variant,
             int(call.paid), reserve, call.estimate, call.day, call.now, user, team, call.repo),
        ).fetchone()[0]
    except sqlite3.IntegrityError as exc:  # the foreign keys: an unknown task or group
        raise NotFoundError(f"no task {call.task_id!r} in group {call.group_id!r}") from exc
    started = False
    if call.task_id is not None:
        if start_task:  # the task's first call: it is running from the moment its money is held
            started = conn.execute(
                "UPDATE tasks SET status = 'running', started_at = ?1, attempts = attempts + 1, model_used = ?2,"
                f" updated_at = ?1, {_VARIANT_OF_CALL} WHERE id = ?3 AND status IN ('pending', 'queued')",
                (call.now, call.model_id, call.task_id, call.variant),
            ).rowcount > 0
        if not started:
            conn.execute(
                f"UPDATE tasks SET attempts = attempts + 1, model_used = ?2, updated_at = ?1, {_VARIANT_OF_CALL}"
                " WHERE id = ?3",
                (call.now, call.model_id, call.task_id, call.variant),
            )
    return attempt_id, reserve, started, bool(learned.cost_samples) and learned.mean_cost <= _EPS


# The task's variant and agent name follow its latest call (an escalated task's are the variant that
# answered): agent names are `<agent>_<variant><worker label>` (`server.routing.router`); the right
# side reads the row's values before the update. ?4 is the call's variant (None: leave both; COALESCE
# gives PostgreSQL its type).
_VARIANT_OF_CALL = (
    "agent_name = CASE WHEN COALESCE(?4, variant) = variant OR substr(agent_name, 1, length(agent) + length(variant) + 1)"
    " <> agent || '_' || variant THEN agent_name"
    " ELSE agent || '_' || ?4 || substr(agent_name, length(agent) + length(variant) + 2) END,"
    " variant = COALESCE(?4, variant)"
)


def _book(conn: sqlite3.Connection, day: str, amount: float, calls: int) -> None:
    conn.execute(
        "INSERT INTO ledger_days (day, settled_usd, calls) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE"
        " SET settled_usd = ledger_days.settled_usd + excluded.settled_usd,"
        " calls = ledger_days.calls + excluded.calls",
        (day, amount, calls),
    )


# Settling a running attempt, one statement: its outcome, its charge (the cost; with none, the
# reservation when the provider bills the call, else 0) and its reservation released; it returns
# what the ledger books. `{charge}` is one of `_CHARGES`. Settling to learn from the cost also
# returns the model's learned figures (`_LEARNED_COLUMNS`), read in the same step. When the
# settling process began the attempt (`Begun`) and the charge is known without the row, the
# statement returns nothing (`_SETTLE_QUIET`: RETURNING doubles this UPDATE's cost).
_SETTLE_SET = (
    "UPDATE attempts SET status = ?1, reserved_usd = 0, cost_usd = ?2, charged_usd = {charge}, cost_source = ?3,"
    " input_tokens = ?4, output_tokens = ?5, cached_tokens = ?6, reasoning_tokens = ?7, latency_ms = ?8,"
    " first_token_ms = ?9, error_class = ?10, error_message = ?11, generation_id = ?12, http_status = ?13,"
    " finished_at = ?14 WHERE id = ?15 AND status = 'running'"
)
_SETTLE = _SETTLE_SET + " RETURNING task_id, day, charged_usd, model_id, provider, estimate_usd"
_CHARGES = {"cost": "?2", "reserved": "reserved_usd", "none": "0"}
_SETTLE_SQL = {kind: _SETTLE.format(charge=sql) for kind, sql in _CHARGES.items()}
_SETTLE_QUIET = {kind: _SETTLE_SET.format(charge=_CHARGES[kind]) for kind in ("cost", "none")}
# The model's learned figures as `_learned` reads them, beside the settled attempt's row.
_MODEL_COLUMN = "(SELECT {} FROM model_costs WHERE model_id = attempts.model_id)"
_SETTLE_LEARNING = _SETTLE_SQL["cost"] + ", " + ", ".join(
    _MODEL_COLUMN.format(column) for column in ("ratio", "ratio_samples", "mean_cost", "cost_samples")
) + (
    f", CASE WHEN coalesce({_MODEL_COLUMN.format('ratio_samples')}, 0) > 0 THEN NULL ELSE"
    " (SELECT max(ratio) FROM model_costs WHERE provider = attempts.provider AND ratio_samples > 0) END"
)


def settle_row(conn: sqlite3.Connection, attempt_id: int, values: dict[str, Any], now: float, *,
               charge_task: bool = True, begun: Begun | None = None) -> tuple[str | None, float] | None:
    """Settle one running attempt inside the caller's transaction: (its task, its charge), None
    if it was not running. `charge_task` False: the caller adds the charge and the tokens to the
    task itself (`task_charge`), in the statement that records the task's outcome. `begun`: what
    this process knows of the attempt from beginning it (nothing is read back where it spares it)."""
    cost, status = values["cost"], values["status"]
    kind = "cost" if cost is not None else ("reserved" if status in BILLED_WITHOUT_FIGURE else "none")
    params = (status, cost, values["cost_source"], values["input_tokens"], values["output_tokens"],
              values["cached_tokens"], values["reasoning_tokens"], values["latency_ms"],
              values["first_token_ms"], values["error_class"], values["error_message"],
              values["generation_id"], values["http_status"], now, attempt_id)
    learning = kind == "cost" and status == "succeeded" and not (begun is not None and begun.learns_nothing_from(cost))
    if begun is not None and kind != "reserved" and not learning:
        if conn.execute(_SETTLE_QUIET[kind], params).rowcount == 0:
            return None
        task_id, day, charged = begun.task_id, begun.day, float(cost or 0.0)
    else:
        row = conn.execute(_SETTLE_LEARNING if learning else _SETTLE_SQL[kind], params).fetchone()
        if row is None:
            return None
        task_id, day, charged, model_id, provider, estimate = row[:6]
        if learning:
            _learn(conn, model_id, provider, estimate, float(charged), now, _learned(row[6:]))
    if charged:
        _book(conn, day, charged, 1)
    if task_id is not None and charge_task:
        add_task_charge(conn, task_id, task_charge(charged, values), now)
    return task_id, float(charged)


# A settled call's charge and tokens added to its task: `TASK_CHARGE` in an UPDATE's SET, with
# `task_charge`'s values at its place among the parameters.
TASK_CHARGE = (
    "cost_usd = cost_usd + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
    " cached_tokens = cached_tokens + ?, reasoning_tokens = reasoning_tokens + ?"
)


def task_charge(charged: float, values: dict[str, Any]) -> tuple[float, int, int, int, int]:
    return (charged, values["input_tokens"], values["output_tokens"], values["cached_tokens"],
            values["reasoning_tokens"])


def add_task_charge(conn: sqlite3.Connection, task_id: str, charge: Sequence[Any], now: float) -> None:
    """Add a settled call's charge (`task_charge`'s values) to its task, in a statement of its own."""
    conn.execute(f"UPDATE tasks SET {TASK_CHARGE}, updated_at = ? WHERE id = ?", (*charge, now, task_id))


# A checked settlement: the attempt's id, the values `settle_row` takes, and what this process
# knows of the attempt from beginning it (`settle_row`'s `begun`).
Settling = tuple[int, dict[str, Any], Begun | None]


def settlement_values(settlement: AttemptSettlement, begun: dict[int, Begun] | None = None) -> Settling:
    """(attempt id, the values `settle_row` takes, what `begun` held of the attempt, taken out
    of it), checked.

    Raises:
        InputError: a status an attempt cannot settle with, or a negative cost.
    """
    if settlement.status not in ATTEMPT_SETTLED_STATUSES:
        raise InputError("status", f"cannot settle an attempt as {settlement.status!r}",
                         ", ".join(ATTEMPT_SETTLED_STATUSES))
    _check_money("cost", settlement.cost)
    values = dict(vars(settlement))  # its fields by name (its attempt's id too, unused there)
    known = None if begun is None else begun.pop(settlement.attempt_id, None)
    return settlement.attempt_id, values, known


def _settle(conn: sqlite3.Connection, settlement: Settling, now: float) -> bool:
    return settle_row(conn, settlement[0], settlement[1], now, begun=settlement[2]) is not None


def _recost(conn: sqlite3.Connection, attempt_id: int, cost: float, source: str) -> bool:
    row = conn.execute(
        "SELECT task_id, day, charged_usd, model_id, provider, estimate_usd, status FROM attempts"
        " WHERE id = ? AND status != 'running'", (attempt_id,)
    ).fetchone()
    if row is None:
        return False
    task_id, day, charged, model_id, provider, estimate, status = row
    delta = cost - charged
    if status == "succeeded":
        _learn(conn, model_id, provider, estimate, cost, now_ts(), read_learned(conn, model_id, provider))
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
        *, cap_usd: float | None = None, now: float | None = None, repo: str | None = None,
    ) -> AttemptRecord:
        """Check the budgets and record a running attempt, atomically; what it holds is learned.

        `reserve_usd` is the realistic estimate at catalogue prices, `cap_usd` the estimate at
        the maximum output; the reservation held is `reserve_usd` times the model's learned
        ratio, capped (see the module docstring). Call it before the model call; make the call
        only if it returns. `repo` is the repository key the task works in (routing learns per
        repository), None without a workspace.

        Raises:
            BudgetExceeded: (a `BudgetRefused`) a paid call would pass a limit; nothing stored.
            NotFoundError: unknown task or group.
            StoreError: the database cannot be written; do not make the call.
        """
        attempt, _ = await self.begin_task_attempt(task_id, group_id, model_id, provider, variant, reserve_usd,
                                                   paid, limits, cap_usd=cap_usd, now=now, repo=repo)
        return attempt

    async def begin_task_attempt(
        self, task_id: str | None, group_id: str | None, model_id: str, provider: str,
        variant: str | None, reserve_usd: float | None, paid: bool, limits: BudgetLimits,
        *, cap_usd: float | None = None, now: float | None = None, repo: str | None = None,
        start_task: bool = False, quick: bool = False,
    ) -> tuple[AttemptRecord, bool]:
        """`begin_attempt`, and with `start_task` the task's move from pending or queued to
        `running` in the same transaction (its first call: one commit instead of two). Returns
        the attempt and whether the task moved (False: it was in another status, e.g. cancelled).
        `quick`: the caller is latency-bound (see `StoreBase._write`).

        Raises:
            BudgetExceeded, NotFoundError, StoreError: as `begin_attempt`; then nothing is stored.
        """
        _check_money("reserve_usd", reserve_usd)
        _check_money("cap_usd", cap_usd)
        ts = now_ts() if now is None else now
        call = _Call(task_id, group_id, self.owner, model_id, provider, variant, paid,
                     float(reserve_usd or 0.0), cap_usd, day_key(ts), ts, repo)
        attempt_id, held, started, free = await self._write(_begin, call, limits, start_task, quick=quick)
        if len(self._begun) >= _BEGUN_KEPT:  # attempts settled elsewhere (recovery): only a shortcut lost
            self._begun.clear()
        self._begun[attempt_id] = Begun(task_id, call.day, call.estimate, free)
        return AttemptRecord(
            attempt_id, task_id, group_id, self.owner, model_id, provider, variant, paid, "running",
            held, None, 0.0, None, 0, 0, 0, 0, None, None, None, None, None, None, call.day, ts, None, repo,
        ), started

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
        settlement = AttemptSettlement(
            attempt_id, status, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost, cost_source,
            latency_ms, first_token_ms, error_class, error_message, generation_id, http_status,
        )
        return await self._write(_settle, settlement_values(settlement, self._begun), now_ts() if now is None else now)

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

    async def learned_costs(self, model_id: str, provider: str) -> Learned:
        """What the ledger has learned of a model's real charges (ratio 1.0 before any)."""
        return await self._run(read_learned, model_id, provider)

    async def spend_since(self, ts: float) -> float:
        """Settled cost plus live reservations of the calls started at or after `ts`."""
        row = await self._run(lambda c: c.execute(
            "SELECT coalesce(sum(charged_usd + reserved_usd), 0) FROM attempts WHERE started_at >= ?",
            (ts,)).fetchone())
        return float(row[0])
