"""The agent loop: ask the model, run the tools it calls in its worktree, hand the results
back, until it declares it is done or a bound stops it.

The model is reached through a `ChatFn` (the scheduler supplies one that reserves and settles
each turn's cost against the task's and the budget's limits and raises `BudgetExceeded` when it
may not spend more). The conversation is a list of the backends' `ChatMessage`s, which each
wire protocol maps to its own tool-calling shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from server.agent.tools import TOOL_SPECS, AgentTools, ToolOutcome, short_arguments
from server.backends.base import ChatMessage, ToolCall, ToolSpec
from server.errors import BudgetExceeded
from server.validation import extract_unified_diff
from server.validation.edit_blocks import has_edit_blocks

__all__ = ["AgentBounds", "AgentReply", "AgentResult", "AgentStep", "ChatFn", "StopReason", "run_agent"]

StopReason = Literal["done", "turns", "tokens", "cost", "wall_time", "budget"]


@dataclass(frozen=True)
class AgentReply:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


ChatFn = Callable[[list[ChatMessage], Sequence[ToolSpec]], Awaitable[AgentReply]]


@dataclass(frozen=True)
class AgentBounds:
    max_turns: int = 20
    max_tokens: int = 400_000  # input + output over the whole loop
    max_cost_usd: float | None = None
    wall_time_s: float = 600.0
    max_steps_kept: int = 40  # the status shows the last N steps


@dataclass(frozen=True)
class AgentStep:
    turn: int
    tool: str
    arguments: str  # in short
    outcome: str  # first line of the output, in short
    ok: bool
    tokens: int  # of the model turn that asked for it
    cost_usd: float
    elapsed_ms: float  # the tool's own time


@dataclass
class AgentResult:
    diff: str
    stop_reason: StopReason
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    steps: list[AgentStep] = field(default_factory=list)
    steps_total: int = 0
    checks_passed: bool | None = None  # the last run_checks the agent made
    summary: str = ""
    # A reply that wrote its change as a patch (a unified diff or SEARCH/REPLACE blocks) instead of
    # making it with the tools: the answer to check when the worktree holds no change.
    written_patch: str = ""


_NUDGE = ("Use the tools to inspect and change the repository, run_checks to test your change, "
          "and call done when the task is finished.")


async def run_agent(
    chat: ChatFn,
    tools: AgentTools,
    messages: list[ChatMessage],
    bounds: AgentBounds = AgentBounds(),
    *,
    on_step: Callable[[AgentStep], Awaitable[None]] | None = None,
) -> AgentResult:
    """Run the loop on `messages` (system + task prompt) and return the worktree's diff."""
    result = AgentResult(diff="", stop_reason="turns")
    started = time.monotonic()
    idle_replies = 0
    stop: StopReason | None = None
    while stop is None:
        stop = _bound_hit(result, bounds, started)
        if stop is not None:
            break
        remaining = bounds.wall_time_s - (time.monotonic() - started)
        try:
            reply = await asyncio.wait_for(chat(messages, TOOL_SPECS), timeout=max(remaining, 0.001))
        except TimeoutError:
            stop = "wall_time"
            break
        except BudgetExceeded:
            stop = "budget"
            break
        result.turns += 1
        result.input_tokens += reply.input_tokens
        result.output_tokens += reply.output_tokens
        result.cost_usd += reply.cost_usd
        messages.append(ChatMessage("assistant", reply.text, tool_calls=reply.tool_calls))
        if not reply.tool_calls:
            if extract_unified_diff(reply.text) is not None or has_edit_blocks(reply.text):
                # the change written out rather than made: it is the answer (cheap models often do this)
                result.written_patch, result.summary = reply.text, reply.text[:500]
                stop = "done"
                break
            idle_replies += 1
            if idle_replies >= 2:  # twice without a tool call: the model considers itself finished
                result.summary = reply.text[:500]
                stop = "done"
                break
            messages.append(ChatMessage("user", _NUDGE))
            continue
        idle_replies = 0
        turn_tokens = reply.input_tokens + reply.output_tokens
        for call in reply.tool_calls:
            t0 = time.perf_counter()
            try:
                arguments = call.parsed_arguments()
            except ValueError as exc:
                arguments = {}
                outcome = ToolOutcome(f"error: the arguments are not a JSON object ({exc})", ok=False)
            else:
                outcome = await tools.call(call.name, arguments)
            step = AgentStep(
                turn=result.turns, tool=call.name, arguments=short_arguments(arguments),
                outcome=(outcome.output.splitlines() or [""])[0][:160], ok=outcome.ok,
                tokens=turn_tokens, cost_usd=reply.cost_usd, elapsed_ms=(time.perf_counter() - t0) * 1000,
            )
            result.steps_total += 1
            result.steps.append(step)
            del result.steps[: -bounds.max_steps_kept]
            if outcome.checks_passed is not None:
                result.checks_passed = outcome.checks_passed
            messages.append(ChatMessage("tool", outcome.output, tool_call_id=call.id, name=call.name,
                                        is_error=not outcome.ok))
            if on_step is not None:
                await on_step(step)
            if outcome.done:
                result.summary = outcome.output[:500]
                stop = "done"
    result.stop_reason = stop
    result.diff = await tools.workspace.diff()
    return result


def _bound_hit(result: AgentResult, bounds: AgentBounds, started: float) -> StopReason | None:
    if result.turns >= bounds.max_turns:
        return "turns"
    if result.input_tokens + result.output_tokens >= bounds.max_tokens:
        return "tokens"
    if bounds.max_cost_usd is not None and result.cost_usd >= bounds.max_cost_usd:
        return "cost"
    if time.monotonic() - started >= bounds.wall_time_s:
        return "wall_time"
    return None
