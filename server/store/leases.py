"""Leases: each server instance runs its groups under a lease it renews every poll interval.

An owner (one Store instance, one server process) holds a lease on its row in `owners`:
`lease_until = now + lease_s`, renewed every `poll_s`. Every instance, every `poll_s`, renews
its own lease and runs `recover()`, which takes as dead an owner whose liveness lock is free
(its process is gone) or whose lease has run out (it stopped renewing: hung, or cut off from
the database). A dead owner's calls in flight are charged their reservation, its running groups
pass to the instance that found it and resume there. So a group is run by one instance at a
time, and a dead instance's groups are picked up within one poll interval of its lock being
freed, and at the latest `lease_s + poll_s` after its last renewal.

Defaults: `lease_s` 30 s, `poll_s` 5 s (`[store] lease_seconds`, `poll_seconds` in the config
file, or `PWM_LEASE_SECONDS`, `PWM_POLL_SECONDS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from server.errors import StoreError
from server.store.base import StoreBase, now_ts
from server.store.records import RecoveryReport

__all__ = ["DEFAULT_LEASE_S", "DEFAULT_POLL_S", "LeaseInfo", "LeaseKeeper", "LeasesMixin"]

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 30.0
DEFAULT_POLL_S = 5.0


@dataclass(frozen=True)
class LeaseInfo:
    """Who runs a group and until when its lease holds (shown in the group's status)."""

    owner: str
    host: str | None
    pid: int | None
    lease_until: float | None
    lease_s: float | None


def _renew(conn: sqlite3.Connection, owner: str, lease_s: float, now: float) -> bool:
    cursor = conn.execute("UPDATE owners SET lease_until = ?, lease_s = ? WHERE id = ?",
                          (now + lease_s, lease_s, owner))
    return bool(cursor.rowcount)


def _lease_of(conn: sqlite3.Connection, group_id: str) -> LeaseInfo | None:
    row = conn.execute(
        "SELECT g.owner, o.host, o.pid, o.lease_until, o.lease_s FROM groups g"
        " LEFT JOIN owners o ON o.id = g.owner WHERE g.id = ?", (group_id,),
    ).fetchone()
    return None if row is None else LeaseInfo(*row)


class LeasesMixin(StoreBase):
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = DEFAULT_POLL_S

    async def renew_lease(self) -> bool:
        """Extend this owner's lease by `lease_s`; False when another instance has taken it over."""
        return await self._write(_renew, self.owner, self.lease_s, now_ts())

    async def group_lease(self, group_id: str) -> LeaseInfo | None:
        """The owner running a group and its lease (None for an unknown group)."""
        return await self._run(_lease_of, group_id)


class LeaseKeeper:
    """Every `store.poll_s`: renew our lease, take over dead instances' groups, resume them."""

    def __init__(self, store: Any, on_takeover: Callable[[], Awaitable[Any]]) -> None:
        self.store = store
        self.on_takeover = on_takeover
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="pwm-leases")

    async def poll_once(self) -> RecoveryReport:
        if not await self.store.renew_lease():
            log.error("this server's lease was taken over by another instance (it stopped renewing in"
                      " time); its groups now run elsewhere")
        report: RecoveryReport = await self.store.recover()
        if report.resumed_groups:
            log.warning("took over %d group(s) of %d stopped instance(s); %d call(s) in flight charged"
                        " their reservation", report.resumed_groups, report.dead_owners,
                        report.interrupted_attempts)
            await self.on_takeover()
        return report

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.store.poll_s)
            try:
                await self.poll_once()
            except StoreError as exc:  # the database is away for a moment: try again next poll
                log.warning("lease renewal failed: %s", exc)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
