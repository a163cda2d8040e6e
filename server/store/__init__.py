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
    TaskIndexRow,
    TaskMove,
    TaskRecord,
    final_group_status,
)
from server.store.reports import GROUP_BY
from server.store.store import Store

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
    "TaskIndexRow",
    "TaskMove",
    "TaskRecord",
    "final_group_status",
    "period_bounds",
]
