"""Follow-ups continue a finished task's conversation (the seed's "differential context").

    result = await continue_task(engine, task_id, "Also handle negative numbers", select=selector)

The follow-up goes to the model that answered (or the next stronger variant of the task's plan
when asked, or when the task failed), with the previous exchange: the task's description, its
answer, the earlier follow-ups. The first turn carries the workspace code its prompt carried;
workspace context already in the thread is not sent again in the new message: it names those
pieces instead ("already shown: calc.py lines 1-20"), and only pieces the selector finds for the
new message that were not sent yet are added. The call is an attempt
of the same task (gated, reserved, settled: the cost lands on it), and the turn is stored with
the pieces it sent, so the thread survives a restart.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.context import workspace_text_allowed
from server.errors import InputError
from server.scheduler.dag import ancestors_in
from server.scheduler.prompt import PER_DEPENDENCY_CHARS, count_tokens
from server.scheduler.retry import candidate_chain
from server.scheduler.runner import Job, Outcome
from server.scheduler.types import TaskPlan, stored_workspace_context
from server.store import TaskRecord
from server.store.threads import Thread, ThreadMessage

if TYPE_CHECKING:
    from server.scheduler.engine import Engine

__all__ = ["ContextPiece", "ContextSelector", "FollowUp", "continue_task", "first_turn_pieces", "first_turn_text",
           "next_model"]

_ACTIVE = ("pending", "queued", "running")
UNCHECKED_FOLLOW_UP = ("(This follow-up is not checked: answer it in the form it asks for; a patch only if it asks "
                       "for a change.)")


@dataclass(frozen=True)
class ContextPiece:
    key: str  # "path:start-end": what identifies it as sent
    text: str  # as written into the prompt
    tokens: int


# (workspace, message, files named) -> the pieces worth showing for the message, best first.
ContextSelector = Callable[[Path, str, Sequence[str]], Awaitable[list[ContextPiece]]]


@dataclass(frozen=True)
class FollowUp:
    task_id: str
    turn: int
    status: str  # succeeded | failed | timed_out
    model_id: str | None
    text: str | None
    error: str | None
    prompt_tokens: int  # estimated tokens of the whole prompt sent
    context_tokens: int  # tokens of new workspace context in it
    context_sent: tuple[str, ...]
    context_skipped: tuple[str, ...]  # selected but already sent in this thread
    cost_usd: float
    input_tokens: int  # as the provider reported
    output_tokens: int


def first_turn_pieces(task: TaskRecord) -> dict[str, int]:
    """The workspace context the task's first prompt carried, as piece -> tokens."""
    files = stored_workspace_context(task.context_json).get("selection", {}).get("files", [])
    return {f"{f['path']}:{f['start_line']}-{f['end_line']}": int(f.get("tokens", 0)) for f in files}


def first_turn_text(task: TaskRecord) -> str:
    """The workspace code as the task's first prompt carried it (rendered), "" without one."""
    return str(stored_workspace_context(task.context_json).get("prompt") or "")


def next_model(plan: TaskPlan, current: str | None, stronger: bool) -> str:
    """The model to continue on: the current one, or the first of the next stronger variant (the
    strongest there is when the task is already there)."""
    chain = candidate_chain(plan.variant, plan.model_id, plan.fallback_model_ids, plan.escalation)
    current = current or plan.model_id
    if not stronger:
        return current
    variants = list(dict.fromkeys(c.variant for c in chain))
    at = next((c.variant for c in chain if c.model_id == current), plan.variant)
    later = variants[variants.index(at) + 1:] if at in variants else []
    if not later:
        return chain[-1].model_id if chain else current
    return next(c.model_id for c in chain if c.variant == later[0])


async def _history(engine: Engine, task: TaskRecord, plan: TaskPlan, validation: dict[str, Any] | None,
                   thread: Thread, workspace_text: str) -> list[dict[str, str]]:
    """The thread so far, the same bytes at every turn (only appended to), so a provider's prompt
    cache can serve it: what changes from turn to turn goes in the new message. The first turn is
    the task's own first prompt (`Engine.task_messages`: its dependencies' results, the request for
    a patch when it was checked) with the workspace code it carried (`workspace_text`): each request
    is all the model sees, so what is "already shown in this conversation" must be in it."""
    _, deps = await engine.store.dispatch_view(task.id, PER_DEPENDENCY_CHARS)
    first = engine.task_messages(plan, task.description, deps, workspace_text, validation)
    if task.status == "succeeded":
        answer = task.result_preview or ""
    else:
        answer = f"(The previous attempt did not succeed: {task.error or task.status}.)"
    messages = [*first, {"role": "assistant", "content": answer}]
    messages += [{"role": m.role, "content": m.content} for m in thread.messages]
    return messages


def _span(key: str) -> tuple[str, int, int] | None:
    path, _, lines = key.rpartition(":")
    start, _, end = lines.partition("-")
    return (path, int(start), int(end)) if path and start.isdigit() and end.isdigit() else None


def _covered(key: str, sent: dict[str, int]) -> bool:
    """Whether the piece was sent, or lies inside a piece of the same file that was."""
    if key in sent:
        return True
    span = _span(key)
    if span is None:
        return False
    for other in sent:
        seen = _span(other)
        if seen is not None and seen[0] == span[0] and seen[1] <= span[1] and span[2] <= seen[2]:
            return True
    return False


def _shown(sent: dict[str, int], max_files: int = 20) -> str:
    """The pieces already sent, by file: `calc.py lines 1-40, 50-60; util.py lines 1-9`."""
    by_file: dict[str, list[str]] = {}
    for key in sent:
        path, _, lines = key.rpartition(":")
        by_file.setdefault(path or key, []).append(lines)
    parts = [f"{path} lines {', '.join(lines)}" if path else path for path, lines in list(by_file.items())[:max_files]]
    more = len(by_file) - max_files
    return "; ".join(parts) + (f"; and {more} more files" if more > 0 else "")


class _Quiet:
    """The task is finished: a follow-up's progress changes no task state."""

    async def queued(self, job: Job) -> None:
        return None

    async def started(self, job: Job) -> None:
        return None

    async def progress(self, job: Job) -> None:
        return None

    async def finished(self, job: Job, outcome: Outcome) -> None:
        return None


async def continue_task(
    engine: Engine, task_id: str, message: str, *, stronger: bool = False, files: Sequence[str] = (),
    select: ContextSelector | None = None,
) -> FollowUp:
    """Send a follow-up in a finished task's thread and store the turn.

    Raises:
        NotFoundError: no such task.
        InputError: the task is still running, or the message is empty.
    """
    if not message.strip():
        raise InputError("message", "is empty", "what the model should do next")
    store = engine.store
    task = await store.get_task(task_id, preview_chars=200_000)
    if task.status in _ACTIVE:
        raise InputError("task_id", f"task {task_id} is still {task.status}",
                         "a finished task: wait for it with get_parallel_group_status")
    plan = TaskPlan.from_json(task.plan_json)
    thread = await store.thread(task.id)
    first_pieces = first_turn_pieces(task) if not thread.messages else {}
    sent = {**first_pieces, **thread.sent}
    selected: list[ContextPiece] = []
    workspace = _workspace_of(task)
    if select is not None and workspace is not None:
        selected = await select(workspace, message, files)
    model_id = next_model(plan, task.model_used, stronger or task.status != "succeeded")
    shown_first = first_turn_text(task)
    if not workspace_text_allowed([model_id], engine.catalog, engine.settings.local_only):
        # local-only: workspace code goes to local models only, and the thread resends what it holds
        if any(m.context_tokens for m in thread.messages):
            raise InputError("stronger", f"this thread holds workspace code, which PWM_LOCAL_ONLY keeps from "
                             f"{model_id}", "continue on a local model (stronger: false)")
        selected, shown_first, sent = [], "", {}
    new = [p for p in selected if not _covered(p.key, sent)]
    skipped = tuple(p.key for p in selected if _covered(p.key, sent))
    turn = thread.turns + 1
    content = message.strip()
    if sent:
        content += f"\n\n(Workspace code already shown in this conversation: {_shown(sent)}.)"
    if new:
        content += "\n\n## More code from the workspace\n\n" + "\n".join(p.text for p in new)
    group = await store.get_group(task.group_id)
    validation = engine.validation_of(task.validate_json, plan, task.description, group.policy)
    if validation is not None and task.depends_on:  # its first prompt showed the code as they left it
        tasks = await store.list_tasks(task.group_id, preview_chars=1)
        by_key = {t.key: t for t in tasks}
        ancestors = [by_key[k] for k in ancestors_in(task.key, {t.key: t.depends_on for t in tasks}) if k in by_key]
        validation, shown_first = await engine.after_dependencies(validation, shown_first, task.context_json, ancestors)
    if validation is not None and validation.get("mode") != "agent":
        content += f"\n\n{UNCHECKED_FOLLOW_UP}"  # the first turn asked for a patch as the only answer
    messages = [*await _history(engine, task, plan, validation, thread, shown_first),
                {"role": "user", "content": content}]
    job = Job(
        key=task.key, task_id=task.id, group_id=task.group_id, priority=task.priority, depth=0,
        timeout_s=task.timeout_s, plan=dataclasses.replace(plan, model_id=model_id, fallback_model_ids=(), escalation=()),
        messages=messages, limits=engine.budget_limits(group.budget_usd, group.policy), cache_prefix=True,
    )
    outcome = await engine.runner.run(job, _Quiet())
    attempt = None
    if job.last_attempt_id is not None:
        attempt = next((a for a in await store.list_attempts(task_id=task.id) if a.id == job.last_attempt_id), None)
    context_tokens = sum(p.tokens for p in new)
    if outcome.status == "succeeded" and outcome.text is not None:
        rows = [ThreadMessage(turn, "user", content, None, context_tokens),
                ThreadMessage(turn, "assistant", outcome.text, outcome.model_used)]
        pieces = [(k, t, 0) for k, t in first_pieces.items()] + [(p.key, p.tokens, turn) for p in new]
        await store.append_thread(task.id, rows, pieces)
    return FollowUp(
        task_id=task.id, turn=turn if outcome.status == "succeeded" else thread.turns, status=outcome.status,
        model_id=outcome.model_used or (attempt.model_id if attempt else model_id), text=outcome.text,
        error=outcome.error, prompt_tokens=count_tokens(messages), context_tokens=context_tokens,
        context_sent=tuple(p.key for p in new), context_skipped=skipped,
        cost_usd=(attempt.cost_usd or 0.0) if attempt else 0.0,
        input_tokens=attempt.input_tokens if attempt else 0, output_tokens=attempt.output_tokens if attempt else 0,
    )


def _workspace_of(task: TaskRecord) -> Path | None:
    for raw in (task.context_json, task.validate_json):
        data: Any = json.loads(raw) if raw else None
        if isinstance(data, dict) and data.get("workspace"):
            return Path(str(data["workspace"]))
    return None
