"""Plain records the engine takes and returns (the tools convert them to and from pydantic).

`TaskInput` / `GroupInput`: one submission, already validated for shape by the tool layer.
`TaskPlan`: what routing decided for a task; stored as the task's `plan_json`, so a restarted
server runs the task exactly as planned. `SubmitResult`: what `submit` answers at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GroupInput", "PlannedTask", "SubmitResult", "TaskInput", "TaskPlan", "stored_workspace_context"]

# `json.dumps(..., separators=(",", ":"))` with one encoder for every plan (dumps makes one a call).
_ENCODE_PLAN = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class TaskInput:
    agent_type: str  # "" = let the kind of work pick the agent
    description: str
    key: str | None = None
    priority: int = 5
    timeout_s: float = 300.0
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    hints: dict[str, Any] = field(default_factory=dict)  # route_task hints: urgent, severity, ...
    context: dict[str, Any] = field(default_factory=dict)  # everything else the client sent, kept
    validate: dict[str, Any] | None = None  # workspace / validation request, stored for later


@dataclass(frozen=True)
class GroupInput:
    tasks: tuple[TaskInput, ...]
    name: str | None = None
    strategy: str | None = None
    policy: str | None = None
    max_concurrent: int | None = None
    budget_usd: float | None = None
    dry_run: bool = False
    request: dict[str, Any] = field(default_factory=dict)  # the original request, for audit


@dataclass
class TaskPlan:
    """Routing's decision for one task, plus what running it needs. Not frozen, as nothing
    changes it: two are built per task (planned, then read back on dispatch), and a frozen
    dataclass sets each field through `object.__setattr__` (~1.2k instructions a field, ten
    times a plain one)."""

    agent: str
    variant: str
    agent_name: str
    model_id: str
    fallback_model_ids: tuple[str, ...]
    escalation: tuple[tuple[str, tuple[str, ...]], ...]
    estimated_cost: float | None
    estimated_time: float
    input_tokens: int
    output_tokens: int
    max_tokens: int
    temperature: float = 0.2
    rationale: str = ""
    excluded: dict[str, str] = field(default_factory=dict)
    task_type: str = ""
    repo: str = ""  # the workspace's repository key (server.perf.repos): attempts record it

    def to_json(self) -> str:
        # The fields as they are (tuples dump as lists), not `asdict`, which deep-copies each
        # value: a tenth of a millisecond per task, paid for every task of a submission.
        return _ENCODE_PLAN(vars(self))

    @classmethod
    def from_json(cls, text: str) -> TaskPlan:
        data = json.loads(text)
        data["fallback_model_ids"] = tuple(data.get("fallback_model_ids", ()))
        data["escalation"] = tuple((v, tuple(ms)) for v, ms in data.get("escalation", ()))
        return cls(**data)


@dataclass
class PlannedTask:
    """A task as submitted and planned (not frozen, as nothing changes it: see `TaskPlan`)."""

    key: str
    task_id: str | None  # None on a dry run
    agent_type: str
    plan: TaskPlan
    depends_on: tuple[str, ...]
    priority: int


@dataclass(frozen=True)
class SubmitResult:
    group_id: str | None  # None on a dry run
    group_name: str
    status: str  # running | planned
    strategy: str
    policy: str
    max_concurrent: int
    tasks: tuple[PlannedTask, ...]
    estimated_cost: float | None  # None: some task's price is unknown
    estimated_time: float  # seconds, DAG- and concurrency-aware
    budget_state: str = "ok"
    warnings: tuple[str, ...] = ()


def stored_workspace_context(context_json: str | None) -> dict[str, Any]:
    """What a task's model was shown of its workspace, as stored with the task at submission:
    `{"selection": {...}, "prompt": rendered text}` (`server.scheduler.planner.plan_with_workspace`),
    {} without one."""
    stored = json.loads(context_json).get("workspace_context") if context_json else None
    return stored if isinstance(stored, dict) else {}
