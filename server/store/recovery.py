"""Crash recovery: settle the calls of dead owners once and hand their groups to this store.

An owner is a Store instance (one per server process). It is dead when its liveness lock is free
(a lock file next to a SQLite database, see `liveness`; a session advisory lock on PostgreSQL). For each dead owner, in one transaction: its running attempts become
`interrupted` and are charged their reservation (the provider served, and bills, a call that
was in flight: an interrupted call is never booked at $0, and is charged once); the
`running` and `queued` tasks of its running groups go back to `queued`; those groups pass to
this store so `unfinished_groups()` returns them for the engine to resume. Calls of live owners
(another server sharing the file) are never touched. Running it again finds nothing: idempotent.
"""

from __future__ import annotations

import sqlite3

from server.store.base import StoreBase, now_ts
from server.store.ledger import settle_row
from server.store.records import RecoveryReport

__all__ = ["RecoveryMixin"]

_INTERRUPTED = {
    "status": "interrupted", "cost": None, "cost_source": "reservation", "input_tokens": 0,
    "output_tokens": 0, "cached_tokens": 0, "reasoning_tokens": 0, "latency_ms": None,
    "first_token_ms": None, "error_class": "interrupted",
    "error_message": "the server stopped during this call; charged its reservation, the task was re-queued",
    "generation_id": None, "http_status": None,
}


def _owners(conn: sqlite3.Connection, me: str) -> dict[str, float | None]:
    """Every other owner with something on record, and its lease end (None: none recorded)."""
    rows = conn.execute(
        "SELECT owner FROM attempts WHERE status = 'running' AND owner != ?1"
        " UNION SELECT owner FROM groups WHERE status = 'running' AND owner != ?1",
        (me,),
    ).fetchall()
    found: dict[str, float | None] = {r[0]: None for r in rows}
    for owner, lease_until in conn.execute("SELECT id, lease_until FROM owners WHERE id != ?", (me,)):
        found[owner] = lease_until
    return found


def _recover(conn: sqlite3.Connection, dead: list[str], me: str, now: float) -> RecoveryReport:
    report = RecoveryReport(len(dead), 0, 0.0, 0, 0)
    for owner in dead:
        running = conn.execute(
            "SELECT id, reserved_usd FROM attempts WHERE owner = ? AND status = 'running'", (owner,)
        ).fetchall()
        for attempt_id, reserved in running:
            if settle_row(conn, attempt_id, _INTERRUPTED, now) is not None:
                report.interrupted_attempts += 1
                report.released_usd += reserved
        report.requeued_tasks += conn.execute(
            "UPDATE tasks SET status = 'queued', queued_at = ?, updated_at = ? WHERE status IN"
            " ('running', 'queued') AND group_id IN"
            " (SELECT id FROM groups WHERE owner = ? AND status = 'running')",
            (now, now, owner),
        ).rowcount
        report.resumed_groups += conn.execute(
            "UPDATE groups SET owner = ?, updated_at = ? WHERE owner = ? AND status = 'running'",
            (me, now, owner),
        ).rowcount
        conn.execute("DELETE FROM owners WHERE id = ?", (owner,))
    return report


class RecoveryMixin(StoreBase):
    async def recover(self) -> RecoveryReport:
        """Settle what dead owners left running and take over their running groups.

        Call once at start-up, then resume `unfinished_groups()`.
        """
        candidates = await self._run(_owners, self.owner)
        backend = self._live()
        now = now_ts()
        # Dead: its liveness lock is free (the process is gone), or its lease ran out (it stopped
        # renewing: hung, or cut off from the database; see `leases`).
        dead = [o for o, lease_until in candidates.items()
                if (lease_until is not None and lease_until < now) or not await backend.owner_alive(o)]
        if not dead:
            return RecoveryReport(0, 0, 0.0, 0, 0)
        report = await self._write(_recover, dead, self.owner, now)
        for owner in dead:
            backend.forget_owner(owner)
        return report
