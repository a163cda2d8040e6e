"""A milestone becomes a checked checklist: a cheap model drafts it, it is validated before
anyone sees it, and it can run as a group whose items are validated tasks.

    drafted = await draft_checklist(engine, MilestoneRequest(milestone, workspace))
    result = await engine.submit(checklist_group(drafted.checklist, request))

The planner's call is a one-task group on the engine, routed like any task (the cost-optimized
strategy unless the caller picks one; the workspace goes with it, and the planner is shown its
summary: every file, the relevant ones' signatures and imports), with its attempts and cost recorded. A malformed plan
(`parse_checklist`, plus: each command is a project tool run without a shell, each file a
relative path) is asked for once more with the problems as feedback, then reported.

Each item's check becomes its task's validation spec (see `server.scheduler.answer_checks`):
tests -> the project's tests run on the patch (a named test file not there yet must be added by
it; a test already failing at the repository's commit fails no item unless it is one the item
names); files -> the patch must change them; command -> run in the patched worktree. Items run as their dependencies pass their checks.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from server.errors import InputError
from server.scheduler.types import GroupInput, TaskInput
from server.workflows.checklist import Checklist, ChecklistItem, PlanProblem, parse_checklist

if TYPE_CHECKING:
    from server.scheduler.engine import Engine

__all__ = ["PLANNER_PROMPT", "DraftedPlan", "MilestoneRequest", "checklist_group", "draft_checklist"]

# Programs an item's command may start: the projects' own tools (never a shell or an interpreter
# given code on its command line).
ALLOWED_PROGRAMS = frozenset({
    "pytest", "python", "python3", "ruff", "mypy", "npm", "npx", "node", "tsc", "cargo", "go", "make", "git",
})
_FORBIDDEN_ARGS = frozenset({"-c", "-e", "--eval", "exec"})

PLANNER_PROMPT = """Break this milestone into a checklist of small steps, each one task for one coding model.

Milestone:
{milestone}

Answer with one JSON object in a ```json block:
{{"items": [{{"id": "short-id", "title": "...", "description": "what to change, precisely",
  "depends_on": ["ids of items that must be done first"], "size": "small" or "medium",
  "check": {{"tests": ["tests that must pass"], "files": ["files that must change"],
            "command": ["program", "arg", ...]}}}}]}}

Rules: at most {max_items} items; every item has a check (at least one of tests, files, command);
depends_on names only ids of this plan and has no cycle; a command is one of the project's own
tools ({programs}) as an argument list, run without a shell; files are paths relative to the
repository root."""


@dataclass(frozen=True)
class MilestoneRequest:
    milestone: str
    workspace: Path  # already confined to the allowed roots
    agent_type: str = ""  # for the planner and the items; "" = picked by the kind of work
    strategy: str | None = None  # the items' strategy; the planner runs cost-optimized unless given
    policy: str | None = None
    max_items: int = 12
    allowed_sizes: tuple[str, ...] = ("small", "medium")
    timeout_s: float = 300.0  # each item's task
    wait_s: float = 45.0  # how long to wait for the planner, both tries together (a client's patience)


@dataclass(frozen=True)
class DraftedPlan:
    checklist: Checklist
    planner_groups: tuple[str, ...]  # the planner's group(s): first try, then the retry if any
    planner_cost: float
    planner_model: str | None
    retried_for: tuple[str, ...] = field(default_factory=tuple)  # the problems of the first plan


def _command_problems(items: tuple[ChecklistItem, ...]) -> list[str]:
    problems = []
    for item in items:
        argv = item_command(item)
        if argv and (PurePosixPath(argv[0]).name not in ALLOWED_PROGRAMS or _FORBIDDEN_ARGS & set(argv[1:])):
            problems.append(f"item {item.id!r}: command {' '.join(argv)!r} is not one of the project's tools "
                            f"({', '.join(sorted(ALLOWED_PROGRAMS))}) run without inline code")
        for path in item.check.files:
            pure = PurePosixPath(path)
            if pure.is_absolute() or ".." in pure.parts:
                problems.append(f"item {item.id!r}: file {path!r} must be a path inside the repository")
    return problems


def item_command(item: ChecklistItem) -> list[str]:
    """The item's command as an argument list (a single string is split like a shell would,
    but never run by one)."""
    command = list(item.check.command)
    if len(command) == 1:
        command = shlex.split(command[0])
    return command


def validate_plan(text: str, request: MilestoneRequest) -> Checklist:
    """Parse and validate a planner's answer.

    Raises:
        PlanProblem: every problem found.
    """
    checklist = parse_checklist(text, max_items=request.max_items, allowed_sizes=request.allowed_sizes)
    problems = _command_problems(checklist.items)
    if problems:
        raise PlanProblem(problems)
    return checklist


async def _ask_planner(
    engine: Engine, request: MilestoneRequest, prompt: str, deadline: float
) -> tuple[str, str, float, str | None]:
    """Run the planner's one-task group until `deadline` (monotonic); its group id, answer, cost, model."""
    # A plan names files and tests across the repository: the summary (paths, signatures, imports,
    # latest commits) shows them all where ranked code would show a few functions.
    task = TaskInput(agent_type=request.agent_type, description=prompt, key="plan",
                     context={"workspace": str(request.workspace), "context_mode": "summary"},
                     timeout_s=min(request.wait_s, 300.0))
    submitted = await engine.submit(GroupInput(tasks=(task,), name=None, strategy=request.strategy or "cost_optimized",
                                               policy=request.policy, request={"plan_milestone": request.milestone}))
    assert submitted.group_id is not None
    group_id = submitted.group_id
    while engine.is_running(group_id) and time.monotonic() < deadline:
        await engine.wait_for_change(group_id, deadline - time.monotonic())
    (record,) = await engine.store.list_tasks(group_id, preview_chars=1)
    if record.status != "succeeded":
        if engine.is_running(group_id):
            raise InputError("milestone", f"the planner did not answer within {request.wait_s:g}s (group {group_id})")
        raise InputError("milestone", f"the planner failed: {record.error or record.status} (group {group_id})")
    answer = await engine.store.task_result(record.id, 0, 1_000_000)
    return group_id, answer.text, record.cost_usd, record.model_used


async def draft_checklist(engine: Engine, request: MilestoneRequest) -> DraftedPlan:
    """Have a model draft the checklist; a malformed one is asked for once more.

    Raises:
        InputError: the planner failed or did not answer in time.
        PlanProblem: the second plan was malformed too (every problem named).
    """
    base = PLANNER_PROMPT.format(milestone=request.milestone.strip(), max_items=request.max_items,
                                 programs=", ".join(sorted(ALLOWED_PROGRAMS)))
    deadline = time.monotonic() + request.wait_s
    group_id, answer, cost, model = await _ask_planner(engine, request, base, deadline)
    try:
        return DraftedPlan(validate_plan(answer, request), (group_id,), cost, model)
    except PlanProblem as first:
        retry = (f"{base}\n\nYour previous plan was:\n{answer.strip()[:6000]}\n\nIt was rejected for these "
                 "problems:\n- " + "\n- ".join(first.problems) + "\n\nSend the corrected plan.")
        second_id, answer, second_cost, model = await _ask_planner(engine, request, retry, deadline)
        try:
            checklist = validate_plan(answer, request)
        except PlanProblem as second:
            raise PlanProblem([f"the plan was malformed twice (groups {group_id}, {second_id})",
                               *second.problems]) from None
        return DraftedPlan(checklist, (group_id, second_id), cost + second_cost, model, tuple(first.problems))


def _item_text(item: ChecklistItem, milestone: str) -> str:
    check = item.check
    done = [f"the tests {', '.join(check.tests)} pass" if check.tests else "",
            f"the files {', '.join(check.files)} change" if check.files else "",
            f"`{' '.join(item.check.command)}` succeeds" if check.command else ""]
    return (f"{item.title}\n\n{item.description}\n\nPart of the milestone: {milestone.strip()[:500]}\n"
            f"Done when: {'; '.join(d for d in done if d)}.")


def item_spec(item: ChecklistItem, workspace: Path, timeout_s: float) -> dict[str, object]:
    """The item's check as its task's validation spec."""
    spec: dict[str, object] = {"workspace": str(workspace), "checks": ["test"] if item.check.tests else ["syntax"],
                               "max_rounds": 3, "timeout_s": timeout_s}
    if item.check.tests:
        # Tests already failing on the repository's commit fail no item, its own tests excepted:
        # a broken test on main would otherwise fail every item of the milestone.
        spec["test_scope"] = "new"
        spec["required_tests"] = list(item.check.tests)
    # A named test file that does not exist yet is the item's to write: the patch must add it.
    named = [t.split("::", 1)[0] for t in item.check.tests if _looks_like_path(t)]
    new_tests = [t for t in named if not (workspace / t).exists()]
    must = list(dict.fromkeys([*item.check.files, *new_tests]))
    if must:
        spec["must_change"] = must
    if item.check.command:
        spec["command"] = item_command(item)
    return spec


def _looks_like_path(name: str) -> bool:
    pure = PurePosixPath(name.split("::", 1)[0])
    return bool(pure.suffix) and not pure.is_absolute() and ".." not in pure.parts


def checklist_group(checklist: Checklist, request: MilestoneRequest, name: str | None = None) -> GroupInput:
    """The checklist as a group: one validated task per item, dependencies as in the plan."""
    by_id = {i.id: i for i in checklist.items}
    tasks = tuple(
        TaskInput(
            agent_type=request.agent_type, description=_item_text(by_id[key], request.milestone), key=key,
            timeout_s=request.timeout_s, tags=("checklist",), depends_on=by_id[key].depends_on,
            context={"workspace": str(request.workspace), "checklist_item": by_id[key].title},
            validate=item_spec(by_id[key], request.workspace, request.timeout_s),
        )
        for key in checklist.order
    )
    plan = [{"id": i.id, "title": i.title, "depends_on": list(i.depends_on)} for i in checklist.items]
    return GroupInput(tasks=tasks, name=name, strategy=request.strategy, policy=request.policy,
                      request={"plan_milestone": request.milestone, "checklist": json.loads(json.dumps(plan))})
