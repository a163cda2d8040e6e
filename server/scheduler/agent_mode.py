"""Agent mode inside the scheduler: a task whose validation spec says `"mode": "agent"` runs
each candidate model as a bounded tool loop in its own worktree (`server.agent`); the worktree's
diff is then checked like any validated answer, and a failed check escalates as usual.

The runner supplies the model turn (one gated, reserved and settled call per turn); this module
builds the conversation, the tools and the bounds from the task's spec, and shapes the report
the task's status shows (steps, stop reason, diff stat).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from server.agent import (
    AgentBounds,
    AgentReply,
    AgentResult,
    AgentStep,
    AgentTools,
    AgentWorkspace,
    ChatFn,
    run_agent,
)
from server.analysis.tokens import count_tokens as count_text_tokens
from server.backends.base import ChatMessage, Completion, Message, as_message
from server.backends.pricing import compute_cost
from server.catalog.schema import ModelSpec
from server.scheduler.dependency_view import commit_on_top
from server.scheduler.validated import lint_scope, test_scope
from server.validation.model import ALL_KINDS

__all__ = ["AGENT_INSTRUCTIONS", "agent_reply", "count_chat_tokens", "run_agent_attempt", "with_agent_report"]

AGENT_INSTRUCTIONS = (
    "You work in your own git worktree of the repository through the tools offered: read_file, "
    "list_dir and search to look around, replace_text or apply_diff to change files, run_checks to "
    "run the project's checks ({checks}) on your change. Make the change with the tools (do not "
    "answer with a diff), run the checks, fix what they report, then call done."
)
_PER_MESSAGE_TOKENS = 4


def count_chat_tokens(messages: Sequence[Message]) -> int:
    """Estimated prompt tokens of a conversation with tool calls and results."""
    total = 3
    for message in messages:
        m = as_message(message)
        total += _PER_MESSAGE_TOKENS + count_text_tokens(m.content)
        total += sum(count_text_tokens(c.name + c.arguments) for c in m.tool_calls)
    return total


def agent_reply(completion: Completion, model: ModelSpec | None) -> AgentReply:
    """One model turn as the agent loop sees it: text, tool calls, tokens and cost."""
    usage = completion.usage
    cost = compute_cost(model, usage, completion.provider_cost).amount if model is not None and usage else None
    return AgentReply(
        completion.text, completion.tool_calls,
        input_tokens=usage.input_tokens if usage else 0, output_tokens=usage.output_tokens if usage else 0,
        cost_usd=cost or 0.0,
    )


def _bounds(spec: Mapping[str, Any]) -> AgentBounds:
    raw: dict[str, Any] = spec["agent"] if isinstance(spec.get("agent"), dict) else {}
    defaults = AgentBounds()
    return AgentBounds(
        max_turns=int(raw.get("max_turns", defaults.max_turns)),
        max_tokens=int(raw.get("max_tokens", defaults.max_tokens)),
        max_cost_usd=None if raw.get("max_cost_usd") is None else float(raw["max_cost_usd"]),
        wall_time_s=float(raw.get("wall_time_s", defaults.wall_time_s)),
    )


async def run_agent_attempt(
    spec: Mapping[str, Any],
    messages: Sequence[Message],
    turn: ChatFn,
    *,
    env: Mapping[str, str],
    task_id: str,
    on_step: Callable[[AgentStep], Awaitable[None]] | None = None,
) -> AgentResult:
    """One candidate's agent run in a fresh worktree of `spec["workspace"]` (removed afterwards)."""
    checks = tuple(spec.get("checks") or ALL_KINDS)
    conversation = [as_message(m) for m in messages]
    conversation.append(ChatMessage("user", AGENT_INSTRUCTIONS.format(checks=", ".join(checks))))
    repo, base = Path(str(spec["workspace"])), str(spec.get("base") or "HEAD")
    if spec.get("after_patches"):  # works on the code as its dependencies' patches leave it
        base = (await commit_on_top(repo, base, [str(p) for p in spec["after_patches"]], env))[1]
    async with await AgentWorkspace.create(repo, task_id=task_id, env=env, base=base) as workspace:
        tools = AgentTools(workspace, checks=checks, check_timeout_s=float(spec.get("timeout_s", 300.0)),
                           base_env=env, exclude_globs=tuple(spec.get("exclude") or ()), lint_scope=lint_scope(spec),
                           test_scope=test_scope(spec), required_tests=[str(t) for t in spec.get("required_tests") or ()])
        return await run_agent(turn, tools, conversation, _bounds(spec), on_step=on_step)


def with_agent_report(report_json: str, agent: AgentResult | None) -> str:
    """The validation report with the agent's run added (for the task's status)."""
    if agent is None:
        return report_json
    data = json.loads(report_json)
    data["agent"] = {
        "stop_reason": agent.stop_reason, "turns": agent.turns, "steps_total": agent.steps_total,
        "input_tokens": agent.input_tokens, "output_tokens": agent.output_tokens,
        "cost_usd": round(agent.cost_usd, 6), "checks_passed": agent.checks_passed,
        "steps": [
            {"turn": s.turn, "tool": s.tool, "arguments": s.arguments, "outcome": s.outcome, "ok": s.ok,
             "tokens": s.tokens, "cost_usd": round(s.cost_usd, 6)}
            for s in agent.steps
        ],
    }
    return json.dumps(data)
