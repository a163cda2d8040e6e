"""Plain records the store takes and returns, and the status vocabularies.

Inputs: `NewGroup`, `NewTask`, `TaskMove`, `BudgetLimits`. Outputs: `GroupRecord`, `TaskRecord`,
`AttemptRecord`, `GroupTotals`, `ResultSlice`, `BudgetStatus` (of `PeriodStatus`),
`RecoveryReport`, `AggregateRow`. Money is USD as float; times are Unix seconds (float).
Fields named `*_json` hold JSON text the caller serialised; the store keeps it verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.settings import BudgetSettings

__all__ = [
    "ATTEMPT_SETTLED_STATUSES",
    "ATTEMPT_STATUSES",
    "GROUP_FINISHED_STATUSES",
    "GROUP_STATUSES",
    "TASK_ACTIVE_STATUSES",
    "TASK_FINAL_STATUSES",
    "TASK_STATUSES",
    "AggregateRow",
    "AttemptRecord",
    "AttemptSettlement",
    "BudgetLimits",
    "BudgetStatus",
    "GroupRecord",
    "GroupTotals",
    "NewGroup",
    "NewTask",
    "PeriodStatus",
    "RecoveryReport",
    "ResultSlice",
    "DependencyView",
    "TaskIndexRow",
    "TaskMove",
    "TaskRecord",
    "final_group_status",
]

# pending: waiting for its dependencies; queued: ready to run; skipped: a dependency failed.
TASK_STATUSES = (
    "pending", "queued", "running", "succeeded", "failed", "cancelled", "timed_out", "skipped",
)
TASK_ACTIVE_STATUSES = ("pending", "queued", "running")
TASK_FINAL_STATUSES = ("succeeded", "failed", "cancelled", "timed_out", "skipped")

# running: tasks are being worked on; planned: a dry run (nothing will run, the name stays free);
# succeeded: every task succeeded; failed: finished with at least one task not succeeded;
# cancelled: stopped by the user.
GROUP_STATUSES = ("running", "planned", "succeeded", "failed", "cancelled")
GROUP_FINISHED_STATUSES = ("succeeded", "failed", "cancelled")

# One row per model call. interrupted: the server died during the call (set by `recover`).
ATTEMPT_STATUSES = ("running", "succeeded", "failed", "interrupted", "cancelled")
ATTEMPT_SETTLED_STATUSES = ("succeeded", "failed", "interrupted", "cancelled")


def final_group_status(task_statuses: list[str]) -> str:
    """The status a group ends with, given its tasks' final statuses."""
    if task_statuses and all(s == "succeeded" for s in task_statuses):
        return "succeeded"
    return "failed"


@dataclass(frozen=True)
class NewGroup:
    name: str | None  # None: the group's id is used as its name
    strategy: str
    policy: str
    max_concurrent: int
    budget_usd: float | None = None
    dry_run: bool = False
    request_json: str = "{}"  # the original request, for audit


@dataclass
class NewTask:
    """A task to store (not frozen, as nothing changes it: one is built per task, and a frozen
    dataclass sets each field through `object.__setattr__`, ten times a plain one)."""

    key: str  # the client's id, else "t1".."tn"
    position: int
    agent_type: str  # as the client gave it
    agent: str
    variant: str
    agent_name: str
    description: str
    priority: int = 5
    timeout_s: float = 300.0
    tags: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)  # keys of tasks in the same group
    plan_json: str = "{}"  # routing plan: model chain, estimates
    context_json: str | None = None
    validate_json: str | None = None


@dataclass
class AttemptSettlement:
    """How one model call ended, to settle its attempt with (`Store.settle_attempt`, or inside
    `Store.move_tasks` with the task's outcome). Not frozen, as nothing changes it: see `NewTask`."""

    attempt_id: int
    status: str  # one of ATTEMPT_SETTLED_STATUSES
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    cost_source: str = "unknown"
    latency_ms: float | None = None
    first_token_ms: float | None = None
    error_class: str | None = None
    error_message: str | None = None
    generation_id: str | None = None
    http_status: int | None = None


@dataclass
class Begun:
    """What this process learned of an attempt as it began it, so settling it needs no read
    back (kept by the store from `begin_task_attempt` until the attempt is settled). Not frozen,
    as nothing changes it: see `NewTask`."""

    task_id: str | None
    day: str
    estimate: float
    # The model's learned figures stood at a mean of $0 with at least one sample: a $0 charge
    # on a $0 estimate would teach it nothing.
    free_so_far: bool

    def learns_nothing_from(self, cost: float) -> bool:
        return self.free_so_far and cost == 0 and not self.estimate


@dataclass
class TaskMove:
    """One compare-and-set status move of a task (see `Store.move_tasks`). Not frozen, as
    nothing changes it: see `NewTask`."""

    task_id: str
    from_statuses: tuple[str, ...]
    to_status: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TaskIndexRow:
    """What scheduling a task needs before it runs (its plan and text are read on dispatch).
    Not frozen, as nothing changes it: see `NewTask`."""

    id: str
    key: str
    position: int
    priority: int
    status: str
    depends_on: tuple[str, ...]


@dataclass(slots=True)
class TaskDispatch:
    """What running a task needs of its row, read when a worker takes it (`dispatch_view`)."""

    id: str
    group_id: str
    status: str
    priority: int
    timeout_s: float
    description: str
    depends_on: list[str]
    plan_json: str
    context_json: str | None
    validate_json: str | None


@dataclass(frozen=True)
class DependencyView:
    """A dependency of a task about to run: its key, description and the head of its result."""

    key: str
    description: str
    result_head: str


@dataclass
class GroupRecord:
    id: str
    name: str
    status: str
    strategy: str
    policy: str
    budget_usd: float | None
    max_concurrent: int
    dry_run: bool
    request_json: str  # "" from look-ups (it grows with the group): `Store.group_request` reads it
    owner: str  # the Store instance (server process) running it
    created_at: float
    updated_at: float
    finished_at: float | None


@dataclass
class TaskRecord:
    id: str
    group_id: str
    key: str
    position: int
    agent_type: str
    agent: str
    variant: str
    agent_name: str
    description: str
    priority: int
    timeout_s: float
    tags: list[str]
    depends_on: list[str]
    plan_json: str
    context_json: str | None
    validate_json: str | None
    status: str
    model_used: str | None
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: float
    result_chars: int | None  # full length of the stored result; None: no result yet
    result_preview: str | None  # its first `preview_chars` characters
    error: str | None
    error_class: str | None
    created_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    updated_at: float


@dataclass
class AttemptRecord:
    id: int
    task_id: str | None
    group_id: str | None
    owner: str
    model_id: str
    provider: str
    variant: str | None
    paid: bool
    status: str
    reserved_usd: float  # held while running, 0 once settled
    cost_usd: float | None  # the call's cost; None when unknown
    charged_usd: float  # what counts against budgets once settled
    cost_source: str | None  # provider_reported | catalog | override | unknown
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency_ms: float | None
    first_token_ms: float | None
    error_class: str | None
    error_message: str | None
    generation_id: str | None
    http_status: int | None
    day: str  # local calendar date of started_at, YYYY-MM-DD: the budget bucket
    started_at: float
    finished_at: float | None
    repo: str | None = None  # the repository key the task worked in (None: no workspace)


@dataclass
class GroupTotals:
    tasks: int
    by_status: dict[str, int]
    attempts: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass
class ResultSlice:
    task_id: str
    text: str
    offset: int
    total_chars: int
    next_offset: int | None  # None: nothing more to read


@dataclass(frozen=True)
class BudgetLimits:
    """Limits in USD (None: no limit). A paid call is refused once spend reaches `stop_at` x limit."""

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    group: float | None = None
    per_task: float | None = None
    stop_at: float = 1.0
    warn_at: float = 0.8

    @classmethod
    def from_settings(
        cls, budgets: BudgetSettings, *, group: float | None = None, per_task: float | None = None
    ) -> BudgetLimits:
        """The configured budgets plus a group's budget; the per-task cap is the stricter of the
        configured one and `per_task` (e.g. the policy's `max_cost_per_task`)."""
        caps = [c for c in (budgets.per_task, per_task) if c is not None]
        return cls(daily=budgets.daily, weekly=budgets.weekly, monthly=budgets.monthly, group=group,
                   per_task=min(caps) if caps else None, stop_at=budgets.stop_at, warn_at=budgets.warn_at)


@dataclass
class PeriodStatus:
    name: str  # daily | weekly | monthly | group
    limit: float | None
    spent: float  # settled
    reserved: float  # held by calls in flight
    fraction: float | None  # (spent + reserved) / limit
    state: str  # ok | warn | stop
    starts_at: float | None  # start of the current period (None for a group)
    resets_at: float | None


@dataclass
class BudgetStatus:
    periods: list[PeriodStatus]
    state: str  # the worst of the periods' states


@dataclass
class RecoveryReport:
    dead_owners: int
    interrupted_attempts: int
    released_usd: float  # reservations released
    requeued_tasks: int
    resumed_groups: int  # running groups of dead owners, now owned by this store


@dataclass
class AggregateRow:
    key: str
    calls: int
    successes: int
    failures: int  # settled, not succeeded (failed, interrupted, cancelled)
    spend_usd: float
    reserved_usd: float
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    avg_latency_ms: float | None


@dataclass
class StatusSnapshot:
    """A group's status read in one transaction: the group, its totals, one page of tasks (with
    their attempts, by task id) and how many tasks the page was taken from."""

    group: GroupRecord
    totals: GroupTotals
    page: list[TaskRecord]
    matching: int
    attempts: dict[str, list[AttemptRecord]]
