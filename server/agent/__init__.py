"""Delegated coding agents: a bounded tool loop in the task's own git worktree.

    workspace = await AgentWorkspace.create(repo, task_id="t1", env=settings.env)  # own worktree + branch
    result = await run_agent(chat, workspace, prompt, AgentBounds(max_turns=12))
    result.diff, result.stop_reason, result.steps

`worktree.py` makes and removes the worktree, `tools.py` holds the tools the model may call
(confined to the worktree), `loop.py` runs the conversation under its bounds.
"""

from server.agent.loop import AgentBounds, AgentReply, AgentResult, AgentStep, ChatFn, run_agent
from server.agent.tools import TOOL_SPECS, AgentTools, ToolOutcome
from server.agent.worktree import AgentWorkspace

__all__ = [
    "TOOL_SPECS",
    "AgentBounds",
    "AgentReply",
    "AgentResult",
    "AgentStep",
    "AgentTools",
    "AgentWorkspace",
    "ChatFn",
    "ToolOutcome",
    "run_agent",
]
