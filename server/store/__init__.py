"""The state: groups, tasks, attempts (one row per model call) and the budget ledger.

SQLite by default, PostgreSQL for a team (`Store.open("postgresql://...")`), same interface.

    store = await Store.open(path)       # WAL, migrations, owner registration and lease
    await store.recover()                # settle what a crashed server left running
    group = await store.create_group(NewGroup(...), [NewTask(...), ...])
    attempt = await store.begin_attempt(task_id, group_id, model, provider, variant,
                                        reserve_usd, paid, limits)   # may raise BudgetExceeded
    await store.settle_attempt(attempt.id, status="succeeded", cost=..., ...)
    await store.close()

Everything raises `StoreError` when the database cannot be read or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from server.store.leases import DEFAULT_LEASE_S, DEFAULT_POLL_S, LeaseInfo, LeaseKeeper
    from server.store.ledger import BudgetRefused, period_bounds
    from server.store.migrations import MIGRATIONS
    from server.store.records import (
        ATTEMPT_SETTLED_STATUSES,
        ATTEMPT_STATUSES,
        GROUP_FINISHED_STATUSES,
        GROUP_STATUSES,
        TASK_ACTIVE_STATUSES,
        TASK_FINAL_STATUSES,
        TASK_STATUSES,
        AggregateRow,
        AttemptRecord,
        AttemptSettlement,
        BudgetLimits,
        BudgetStatus,
        DependencyView,
        GroupRecord,
        GroupTotals,
        NewGroup,
        NewTask,
        PeriodStatus,
        RecoveryReport,
        ResultSlice,
        StatusSnapshot,
        TaskDispatch,
        TaskIndexRow,
        TaskMove,
        TaskRecord,
        final_group_status,
    )
    from server.store.reports import GROUP_BY
    from server.store.store import Store

# Each name loads its module on first use (PEP 562): `server.store.target` (read by the settings)
# imports without the store, so a server lists its tools before loading SQLite and the records.
_LAZY: dict[str, str] = {
    "ATTEMPT_SETTLED_STATUSES": "server.store.records",
    "ATTEMPT_STATUSES": "server.store.records",
    "AggregateRow": "server.store.records",
    "AttemptRecord": "server.store.records",
    "AttemptSettlement": "server.store.records",
    "BudgetLimits": "server.store.records",
    "BudgetRefused": "server.store.ledger",
    "BudgetStatus": "server.store.records",
    "DEFAULT_LEASE_S": "server.store.leases",
    "DEFAULT_POLL_S": "server.store.leases",
    "DependencyView": "server.store.records",
    "GROUP_BY": "server.store.reports",
    "GROUP_FINISHED_STATUSES": "server.store.records",
    "GROUP_STATUSES": "server.store.records",
    "GroupRecord": "server.store.records",
    "GroupTotals": "server.store.records",
    "LeaseInfo": "server.store.leases",
    "LeaseKeeper": "server.store.leases",
    "MIGRATIONS": "server.store.migrations",
    "NewGroup": "server.store.records",
    "NewTask": "server.store.records",
    "PeriodStatus": "server.store.records",
    "RecoveryReport": "server.store.records",
    "ResultSlice": "server.store.records",
    "StatusSnapshot": "server.store.records",
    "Store": "server.store.store",
    "TASK_ACTIVE_STATUSES": "server.store.records",
    "TASK_FINAL_STATUSES": "server.store.records",
    "TASK_STATUSES": "server.store.records",
    "TaskDispatch": "server.store.records",
    "TaskIndexRow": "server.store.records",
    "TaskMove": "server.store.records",
    "TaskRecord": "server.store.records",
    "final_group_status": "server.store.records",
    "period_bounds": "server.store.ledger",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "ATTEMPT_SETTLED_STATUSES",
    "DEFAULT_LEASE_S",
    "DEFAULT_POLL_S",
    "ATTEMPT_STATUSES",
    "GROUP_BY",
    "GROUP_FINISHED_STATUSES",
    "GROUP_STATUSES",
    "MIGRATIONS",
    "TASK_ACTIVE_STATUSES",
    "TASK_FINAL_STATUSES",
    "TASK_STATUSES",
    "AggregateRow",
    "AttemptRecord",
    "AttemptSettlement",
    "BudgetLimits",
    "BudgetRefused",
    "BudgetStatus",
    "DependencyView",
    "GroupRecord",
    "GroupTotals",
    "LeaseInfo",
    "LeaseKeeper",
    "NewGroup",
    "NewTask",
    "PeriodStatus",
    "RecoveryReport",
    "ResultSlice",
    "StatusSnapshot",
    "Store",
    "TaskDispatch",
    "TaskIndexRow",
    "TaskMove",
    "TaskRecord",
    "final_group_status",
    "period_bounds",
]
