"""Groups and their tasks: creation in one transaction, look-ups, compare-and-set status moves.

Task timestamps follow the status: moving to `queued` stamps `queued_at`, to `running`
`started_at`, to a final status `finished_at`, unless the caller passes them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from server.errors import InputError, NotFoundError
from server.store.base import StoreBase, now_ts
from server.store.ledger import (
    TASK_CHARGE,
    Settling,
    add_task_charge,
    settle_row,
    settlement_values,
    task_charge,
)
from server.store.records import (
    GROUP_FINISHED_STATUSES,
    TASK_FINAL_STATUSES,
    TASK_STATUSES,
    AttemptRecord,
    AttemptSettlement,
    DependencyView,
    GroupRecord,
    GroupTotals,
    NewGroup,
    NewTask,
    ResultSlice,
    StatusSnapshot,
    TaskDispatch,
    TaskIndexRow,
    TaskMove,
    TaskRecord,
)
from server.store.reports import _ATTEMPT_COLS as ATTEMPT_COLUMNS
from server.store.reports import _attempt as attempt_record
from server.store.tokens import current_caller, restricted_to

__all__ = ["GroupsMixin", "TASK_UPDATABLE_FIELDS"]

_GROUP_COLS = (
    "id, name, status, strategy, policy, budget_usd, max_concurrent, dry_run, request_json, owner,"
    " created_at, updated_at, finished_at"
)
# Look-ups leave the original request out (`request_json`, kept for audit): at 10,000 tasks it is
# about 1 MB, which every status poll and group listing would read and copy. `group_request` reads it.
_GROUP_READ_COLS = _GROUP_COLS.replace("request_json", "'' AS request_json")
_TASK_COLS = (
    "id, group_id, key, position, agent_type, agent, variant, agent_name, description, priority,"
    " timeout_s, tags_json, depends_on_json, plan_json, context_json, validate_json, status,"
    " model_used, attempts, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd,"
    " result_chars, substr(result, 1, ?), error, error_class, created_at, queued_at, started_at,"
    " finished_at, updated_at"
)
_INSERT_TASK = (
    "INSERT INTO tasks (id, group_id, key, position, agent_type, agent, variant, agent_name,"
    " description, priority, timeout_s, tags_json, depends_on_json, plan_json, context_json,"
    " validate_json, status, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
)
# Fields `update_task` / `transition_task` may set. `result` also records its length.
TASK_UPDATABLE_FIELDS = frozenset({
    "variant", "agent_name", "plan_json", "context_json", "model_used", "priority", "result",
    "error", "error_class", "queued_at", "started_at", "finished_at",
})
DEFAULT_PREVIEW_CHARS = 4000


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def _group(row: Sequence[Any]) -> GroupRecord:
    rec = GroupRecord(*row)
    rec.dry_run = bool(rec.dry_run)
    return rec


def _task(row: Sequence[Any]) -> TaskRecord:
    values = list(row)
    values[11] = json.loads(values[11])
    values[12] = json.loads(values[12])
    return TaskRecord(*values)


def _set_clause(status: str | None, fields: dict[str, Any], now: float) -> tuple[str, list[Any]]:
    unknown = set(fields) - TASK_UPDATABLE_FIELDS
    if unknown:
        raise InputError(
            "fields", f"cannot update task field(s) {', '.join(sorted(unknown))}",
            ", ".join(sorted(TASK_UPDATABLE_FIELDS)),
        )
    values = dict(fields)
    if status is not None:
        if status not in TASK_STATUSES:
            raise InputError("status", f"unknown task status {status!r}", ", ".join(TASK_STATUSES))
        values["status"] = status
        stamp = {"queued": "queued_at", "running": "started_at"}.get(status)
        if status in TASK_FINAL_STATUSES:
            stamp = "finished_at"
        if stamp and stamp not in values:
            values[stamp] = now
    values["updated_at"] = now
    names = sorted(values)  # a stable SQL text keeps sqlite3's statement cache effective
    parts = [f"{n} = ?" for n in names]
    if "result" in values:
        parts.append("result_chars = length(?)")
        names.append("result")
    return ", ".join(parts), [values[n] for n in names]


def _insert_group(
    conn: sqlite3.Connection, group: NewGroup, tasks: list[NewTask], owner: str, now: float,
    user: str | None = None,
) -> GroupRecord:
    gid = new_id()
    name = group.name or gid
    status = "planned" if group.dry_run else "running"
    row = (
        gid, name, status, group.strategy, group.policy, group.budget_usd, group.max_concurrent,
        int(group.dry_run), group.request_json, owner, now, now, None,
    )
    try:
        conn.execute(f"INSERT INTO groups ({_GROUP_COLS}) VALUES ({', '.join('?' * 13)})", row)
    except sqlite3.IntegrityError as exc:
        other = conn.execute(
            "SELECT id FROM groups WHERE name = ? AND status = 'running'", (name,)
        ).fetchone()
        raise InputError(
            "group_name", f"a group named {name!r} is already running (id {other[0] if other else '?'})",
            "another name, or cancel or wait for the running group",
        ) from exc
    if user is not None:  # whose group: its budgets, and who may see it
        conn.execute("UPDATE groups SET user_name = ? WHERE id = ?", (user, gid))
    rows = [
        (
            new_id(), gid, t.key, t.position, t.agent_type, t.agent, t.variant, t.agent_name,
            t.description, t.priority, t.timeout_s, json.dumps(t.tags), json.dumps(t.depends_on),
            t.plan_json, t.context_json, t.validate_json, now, now,
        )
        for t in tasks
    ]
    try:
        conn.executemany(_INSERT_TASK, rows)
    except sqlite3.IntegrityError as exc:
        keys = [t.key for t in tasks]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise InputError("tasks[].id", f"duplicate task id(s) {dup or exc}", "unique ids") from exc
    return _group(row)


# Another user's group is looked up exactly like an unknown one (tokens.py: who is calling).
_VISIBLE = " AND (CAST(?2 AS TEXT) IS NULL OR user_name IS NULL OR user_name = ?2)"


def _get_group(conn: sqlite3.Connection, id_or_name: str, user: str | None = None) -> GroupRecord:
    row = conn.execute(f"SELECT {_GROUP_READ_COLS} FROM groups WHERE id = ?1" + _VISIBLE,
                       (id_or_name, user)).fetchone()
    if row is None:
        row = conn.execute(
            f"SELECT {_GROUP_READ_COLS} FROM groups WHERE name = ?1" + _VISIBLE
            + " ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (id_or_name, user),
        ).fetchone()
    if row is None:
        raise NotFoundError(f"no group with id or name {id_or_name!r}", kind="group", key=id_or_name)
    return _group(row)


def _list_tasks(conn: sqlite3.Connection, group_id: str, preview: int) -> list[TaskRecord]:
    rows = conn.execute(
        f"SELECT {_TASK_COLS} FROM tasks WHERE group_id = ? ORDER BY position", (preview, group_id)
    ).fetchall()
    return [_task(r) for r in rows]


def _get_task(conn: sqlite3.Connection, task_id: str, preview: int) -> TaskRecord:
    row = conn.execute(f"SELECT {_TASK_COLS} FROM tasks WHERE id = ?", (preview, task_id)).fetchone()
    if row is None:
        raise NotFoundError(f"no task with id {task_id!r}", kind="task", key=task_id)
    return _task(row)


def _update(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    return conn.execute(sql, params).rowcount


def _moved_ids(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[str]:
    return [r[0] for r in conn.execute(sql, params).fetchall()]


def _move_tasks(
    conn: sqlite3.Connection, moves: Sequence[TaskMove], finish: tuple[str, str] | None, now: float,
    settle: Settling | None = None,
) -> list[bool]:
    # Whatever becomes of the moves, the call is settled; its charge goes to its task with the
    # first move when that is its task's and applies (one write of the row), else on its own.
    charge: tuple[str, tuple[Any, ...]] | None = None
    if settle is not None:
        settled = settle_row(conn, settle[0], settle[1], now, charge_task=False, begun=settle[2])
        if settled is not None and settled[0] is not None:
            charge = settled[0], task_charge(settled[1], settle[1])
    with_first = charge is not None and bool(moves) and charge[0] == moves[0].task_id
    done: list[bool] = []
    for move in moves:
        clause, params = _set_clause(move.to_status, move.fields, now)
        if with_first and not done and charge is not None:
            clause, params = f"{clause}, {TASK_CHARGE}", [*params, *charge[1]]
        froms = move.from_statuses
        sql = f"UPDATE tasks SET {clause} WHERE id = ? AND status IN ({', '.join('?' * len(froms))})"
        moved = conn.execute(sql, (*params, move.task_id, *froms)).rowcount > 0
        if not done and not moved:
            break  # the first move decides: none of them applies
        done.append(moved)
    if charge is not None and not (with_first and done):
        add_task_charge(conn, charge[0], charge[1], now)
    if not done:
        return [False] * len(moves)
    if finish is not None and all(done):
        _finish_group(conn, finish, now)
    return done


def _finish_group(conn: sqlite3.Connection, finish: tuple[str, str], now: float) -> None:
    conn.execute("UPDATE groups SET status = ?, updated_at = ?, finished_at = ?"
                 " WHERE id = ? AND status IN ('running', 'planned')", (finish[1], now, now, finish[0]))


def _checked_finish(finish_group: tuple[str, str] | None) -> None:
    if finish_group is not None and finish_group[1] not in GROUP_FINISHED_STATUSES:
        raise InputError("status", f"{finish_group[1]!r} is not a finished group status",
                         ", ".join(GROUP_FINISHED_STATUSES))


class _Conflict(Exception):
    """A batch's first move did not apply: roll every batch back (see `move_task_batches`)."""


def _move_batches(
    conn: sqlite3.Connection, batches: Sequence[tuple[Sequence[TaskMove], Settling | None]],
    finish: tuple[str, str] | None, now: float,
) -> list[list[bool]]:
    out = []
    for moves, settle in batches:
        done = _move_tasks(conn, moves, None, now, settle)
        if done and not done[0]:
            raise _Conflict
        out.append(done)
    if finish is not None and all(all(done) for done in out):
        _finish_group(conn, finish, now)
    return out


def _task_index(conn: sqlite3.Connection, group_id: str) -> list[TaskIndexRow]:
    rows = conn.execute(
        "SELECT id, key, position, priority, status, depends_on_json FROM tasks WHERE group_id = ?"
        " ORDER BY position", (group_id,)
    ).fetchall()
    # No dependencies is stored as '[]' (as `_queue_roots` reads it): nothing to parse.
    return [TaskIndexRow(i, k, p, pr, st, () if d == "[]" else tuple(json.loads(d)))
            for i, k, p, pr, st, d in rows]


_DISPATCH_COLS = (
    "id, group_id, status, priority, timeout_s, description, depends_on_json, plan_json, context_json, validate_json"
)


def _dispatch(conn: sqlite3.Connection, task_id: str, head_chars: int) -> tuple[TaskDispatch, list[DependencyView]]:
    row = conn.execute(f"SELECT {_DISPATCH_COLS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no task with id {task_id!r}", kind="task", key=task_id)
    tid, group_id, status, priority, timeout_s, description, depends_json, plan, context, validate = row
    depends_on: list[str] = [] if depends_json == "[]" else json.loads(depends_json)
    task = TaskDispatch(tid, group_id, status, priority, timeout_s, description, depends_on, plan, context, validate)
    deps: list[DependencyView] = []
    if depends_on:
        marks = ", ".join("?" * len(depends_on))
        found = {
            key: DependencyView(key, description, head or "")
            for key, description, head in conn.execute(
                f"SELECT key, description, substr(result, 1, ?) FROM tasks WHERE group_id = ? AND key IN ({marks})",
                (head_chars, task.group_id, *depends_on),
            )
        }
        deps = [found[k] for k in depends_on if k in found]
    return task, deps


# Tasks needing attention first: failures, then what stopped, then what runs, then what waits.
ATTENTION_ORDER = ("failed", "timed_out", "cancelled", "skipped", "running", "queued", "pending", "succeeded")


def _task_page(
    conn: sqlite3.Connection, group_id: str, status: str | None, offset: int, limit: int, preview: int,
    by_status: dict[str, int],
) -> tuple[list[TaskRecord], int]:
    # Walk the statuses' ranges of the (group, status, position) index: O(page), not O(group).
    buckets = [status] if status is not None else [s for s in ATTENTION_ORDER if by_status.get(s)]
    total = sum(by_status.get(s, 0) for s in buckets)
    ids: list[str] = []
    skip = offset
    for bucket in buckets:
        size = by_status.get(bucket, 0)
        if skip >= size:
            skip -= size
            continue
        ids += [r[0] for r in conn.execute(
            "SELECT id FROM tasks WHERE group_id = ? AND status = ? ORDER BY position LIMIT ? OFFSET ?",
            (group_id, bucket, limit - len(ids), skip),
        )]
        skip = 0
        if len(ids) >= limit:
            break
    if not ids:
        return [], total
    rank = {task_id: index for index, task_id in enumerate(ids)}
    rows = conn.execute(
        f"SELECT {_TASK_COLS} FROM tasks WHERE id IN ({', '.join('?' * len(ids))})", (preview, *ids)
    ).fetchall()
    return sorted((_task(r) for r in rows), key=lambda t: rank[t.id]), total


def _status_snapshot(
    conn: sqlite3.Connection, group_id: str, status: str | None, offset: int, limit: int, preview: int
) -> StatusSnapshot:
    record = _get_group(conn, group_id)
    totals = _totals(conn, group_id)
    page, matching = (
        _task_page(conn, group_id, status, offset, limit, preview, totals.by_status) if limit > 0 else ([], 0)
    )
    attempts: dict[str, list[AttemptRecord]] = {t.id: [] for t in page}
    if page:
        marks = ", ".join("?" * len(page))
        rows = conn.execute(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts a WHERE a.task_id IN ({marks}) ORDER BY a.id",
            [t.id for t in page],
        ).fetchall()
        for row in rows:
            attempt = attempt_record(row)
            attempts[attempt.task_id or ""].append(attempt)
    return StatusSnapshot(record, totals, page, matching, attempts)


def _queue_roots(conn: sqlite3.Connection, group_id: str, now: float) -> int:
    return conn.execute(
        "UPDATE tasks SET status = 'queued', queued_at = ?, updated_at = ? WHERE group_id = ?"
        " AND status = 'pending' AND depends_on_json = '[]'", (now, now, group_id)
    ).rowcount


def _result_slice(conn: sqlite3.Connection, task_id: str, offset: int, limit: int) -> ResultSlice:
    row = conn.execute(
        "SELECT substr(result, ? + 1, ?), result_chars FROM tasks WHERE id = ?",
        (offset, limit, task_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no task with id {task_id!r}", kind="task", key=task_id)
    text, total = row[0] or "", row[1] or 0
    end = offset + len(text)
    return ResultSlice(task_id, text, offset, total, end if end < total else None)


def _totals(conn: sqlite3.Connection, group_id: str) -> GroupTotals:
    by_status: dict[str, int] = {}
    tasks = attempts = tokens_in = tokens_out = 0
    cost = 0.0
    for status, n, a, i, o, c in conn.execute(
        "SELECT status, count(*), sum(attempts), sum(input_tokens), sum(output_tokens), sum(cost_usd)"
        " FROM tasks WHERE group_id = ? GROUP BY status",
        (group_id,),
    ):
        by_status[status] = n
        tasks, attempts, tokens_in, tokens_out, cost = (
            tasks + n, attempts + a, tokens_in + i, tokens_out + o, cost + c,
        )
    return GroupTotals(tasks, by_status, attempts, tokens_in, tokens_out, cost)


def _group_request(conn: sqlite3.Connection, group_id: str, user: str | None = None) -> str:
    row = conn.execute("SELECT request_json FROM groups WHERE id = ?1" + _VISIBLE, (group_id, user)).fetchone()
    if row is None:
        raise NotFoundError(f"no group with id {group_id!r}", kind="group", key=group_id)
    return str(row[0])


class GroupsMixin(StoreBase):
    async def create_group(self, group: NewGroup, tasks: list[NewTask]) -> GroupRecord:
        """Store a group and all its tasks (status `pending`) in one transaction: all or nothing.

        Raises:
            InputError: `group_name` already running, or duplicate task keys.
            StoreError: the database cannot be written.
        """
        caller = current_caller()
        return await self._write(_insert_group, group, tasks, self.owner, now_ts(),
                                 None if caller is None else caller.user)

    async def get_group(self, id_or_name: str) -> GroupRecord:
        """The group with this id, else the most recent group with this name.

        Only groups the current caller may see (their own; all for an admin or on stdio).

        Raises:
            NotFoundError: neither matches.
        """
        return await self._run(_get_group, id_or_name, restricted_to())

    async def group_request(self, group_id: str) -> str:
        """The request the group was submitted with, as JSON: look-ups (`get_group`,
        `list_groups`) leave it out of the record (`request_json` is "" there), as it grows with the group.

        Raises:
            NotFoundError: no such group (that the caller may see).
        """
        return await self._run(_group_request, group_id, restricted_to())

    async def list_groups(self, limit: int = 50, status: str | None = None) -> list[GroupRecord]:
        """Most recent first."""
        user = restricted_to()
        where = ("(CAST(?1 AS TEXT) IS NULL OR status = ?1)"
                 " AND (CAST(?2 AS TEXT) IS NULL OR user_name IS NULL OR user_name = ?2)")
        sql = f"SELECT {_GROUP_READ_COLS} FROM groups WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ?3"
        params: tuple[Any, ...] = (status, user, limit)
        rows = await self._run(lambda c: c.execute(sql, params).fetchall())
        return [_group(r) for r in rows]

    async def unfinished_groups(self) -> list[GroupRecord]:
        """Running groups owned by this store (after `recover()`, those of dead owners too)."""
        rows = await self._run(lambda c: c.execute(
            f"SELECT {_GROUP_READ_COLS} FROM groups WHERE status = 'running' AND owner = ?"
            " ORDER BY created_at", (self.owner,)).fetchall())
        return [_group(r) for r in rows]

    async def finish_group(self, group_id: str, status: str) -> bool:
        """Mark a running group finished; False when it was not running (already finished)."""
        if status not in ("succeeded", "failed", "cancelled"):
            raise InputError("status", f"{status!r} is not a finished group status",
                             "succeeded, failed, cancelled")
        now = now_ts()
        n = await self._run(_update, "UPDATE groups SET status = ?, updated_at = ?, finished_at = ?"
                            " WHERE id = ? AND status IN ('running', 'planned')",
                            (status, now, now, group_id))
        return n > 0

    async def list_tasks(self, group_id: str, preview_chars: int = DEFAULT_PREVIEW_CHARS) -> list[TaskRecord]:
        """A group's tasks in submission order; results are cut to `preview_chars`."""
        return await self._run(_list_tasks, group_id, preview_chars)

    async def get_task(self, task_id: str, preview_chars: int = DEFAULT_PREVIEW_CHARS) -> TaskRecord:
        """Raises: NotFoundError."""
        return await self._run(_get_task, task_id, preview_chars)

    async def group_totals(self, group_id: str) -> GroupTotals:
        return await self._run(_totals, group_id)

    async def update_task(self, task_id: str, status: str | None = None, **fields: Any) -> bool:
        """Set fields of a task unconditionally; False when the task does not exist."""
        clause, params = _set_clause(status, fields, now_ts())
        return await self._run(_update, f"UPDATE tasks SET {clause} WHERE id = ?", (*params, task_id)) > 0

    async def transition_task(
        self, task_id: str, from_statuses: Iterable[str], to_status: str, **fields: Any
    ) -> bool:
        """Move a task to `to_status` only if it is in one of `from_statuses` (compare-and-set).

        Returns False when the task was not in those statuses: someone else moved it.
        """
        froms = tuple(from_statuses)
        clause, params = _set_clause(to_status, fields, now_ts())
        sql = f"UPDATE tasks SET {clause} WHERE id = ? AND status IN ({', '.join('?' * len(froms))})"
        return await self._run(_update, sql, (*params, task_id, *froms)) > 0

    async def move_tasks(
        self, moves: Sequence[TaskMove], finish_group: tuple[str, str] | None = None,
        *, settle: AttemptSettlement | None = None, quick: bool = False,
    ) -> list[bool]:
        """Apply compare-and-set task moves in one transaction, in order; which ones applied.

        When the first move does not apply (someone else moved that task), no move is written.
        `finish_group` = (group id, final status): finish the group in the same transaction when
        every move applied, so no reader sees every task final and the group still running.
        `settle`: the call that decided the first task's outcome, settled in the same
        transaction whether or not the moves apply (as `settle_attempt`: once, never twice),
        so a crash never leaves a task's outcome stored and its call unsettled, or the reverse.
        `quick`: the caller is latency-bound (see `StoreBase._write`).

        Raises:
            InputError: a finish status that is not final, or a settlement `settle_attempt` refuses.
        """
        _checked_finish(finish_group)
        settled = None if settle is None else settlement_values(settle, self._begun)
        if not moves and settled is None:
            return []
        return await self._write(_move_tasks, list(moves), finish_group, now_ts(), settled, quick=quick)

    async def move_task_batches(
        self, batches: Sequence[tuple[Sequence[TaskMove], AttemptSettlement | None]],
        finish_group: tuple[str, str] | None = None, *, quick: bool = False,
    ) -> list[list[bool]] | None:
        """Several `move_tasks` (each with its settlement) in one transaction, in order, each
        seeing the ones before it: several tasks' outcomes committed at once. None, and nothing
        written, when the first move of any batch does not apply (someone else moved that task:
        the caller writes them one at a time instead). `finish_group` as for `move_tasks`, when
        every move of every batch applied.

        Raises:
            InputError: as `move_tasks`; nothing is written.
        """
        _checked_finish(finish_group)
        checked = [(list(moves), None if settle is None else settlement_values(settle, self._begun))
                   for moves, settle in batches]
        try:
            return await self._write(_move_batches, checked, finish_group, now_ts(), quick=quick)
        except _Conflict:
            return None

    async def transition_group_tasks(
        self, group_id: str, from_statuses: Iterable[str], to_status: str, **fields: Any
    ) -> list[str]:
        """Move every task of a group in `from_statuses` (e.g. cancel the pending ones); their ids."""
        froms = tuple(from_statuses)
        clause, params = _set_clause(to_status, fields, now_ts())
        sql = (f"UPDATE tasks SET {clause} WHERE group_id = ? AND status IN"
               f" ({', '.join('?' * len(froms))}) RETURNING id")
        return await self._run(_moved_ids, sql, (*params, group_id, *froms))

    async def task_index(self, group_id: str) -> list[TaskIndexRow]:
        """A group's tasks, only what scheduling needs, in submission order."""
        return await self._read(_task_index, group_id)

    async def dispatch_view(
        self, task_id: str, head_chars: int, *, quick: bool = False
    ) -> tuple[TaskDispatch, list[DependencyView]]:
        """A task about to run (what running it needs of its row) and its dependencies with
        `head_chars` of their results. `quick`: the caller is latency-bound (see `StoreBase._write`).

        Raises:
            NotFoundError: unknown task.
        """
        return await self._read(_dispatch, task_id, head_chars, quick=quick)

    async def status_snapshot(
        self, group_id: str, *, status: str | None = None, offset: int = 0, limit: int = 20,
        preview_chars: int = DEFAULT_PREVIEW_CHARS,
    ) -> StatusSnapshot:
        """In one read transaction (a consistent snapshot): the group, its totals, one page of its
        tasks with their attempts, and how many tasks match. The page: tasks in `status`, in submission order, or (None)
        all of them, those needing attention first (failed, timed out, cancelled, skipped,
        running, queued, pending, then succeeded). `limit` 0 reads no task.

        Raises:
            NotFoundError: no such group.
        """
        return await self._read(_status_snapshot, group_id, status, offset, limit, preview_chars)

    async def queue_roots(self, group_id: str) -> int:
        """Move a group's pending tasks without dependencies to `queued`, in one statement."""
        return await self._run(_queue_roots, group_id, now_ts())

    async def task_result(self, task_id: str, offset: int = 0, limit: int = DEFAULT_PREVIEW_CHARS) -> ResultSlice:
        """`limit` characters of a task's full result from `offset` (characters, not bytes).

        Raises:
            InputError: negative offset or non-positive limit.  NotFoundError: unknown task.
        """
        if offset < 0:
            raise InputError("offset", f"must be >= 0, got {offset}")
        if limit <= 0:
            raise InputError("limit", f"must be > 0, got {limit}")
        return await self._run(_result_slice, task_id, offset, limit)
