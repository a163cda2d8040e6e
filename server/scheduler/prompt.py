"""The messages one task sends, and how many tokens they take.

The system message is the agent's role prompt; the user message is the task description,
then the workspace code selected for the task (`server.context`, rendered there with each
piece's path and line numbers — exactly the selection the task records), then the outputs of
the tasks it depends on (each cut to a bounded size, the whole
block too, so a wide fan-in cannot blow a model's context window). Token counts use `server.analysis.tokens`
(cl100k) as an estimate for every model (provider usage is the truth, recorded after).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.analysis.tokens import count_tokens as count_text_tokens

__all__ = ["DependencyOutput", "build_messages", "count_tokens", "fit_max_tokens"]

PER_DEPENDENCY_CHARS = 6000
ALL_DEPENDENCIES_CHARS = 24000
# Chat framing overhead per message (role, separators), as OpenAI documents it.
_PER_MESSAGE_TOKENS = 4
MIN_OUTPUT_TOKENS = 256


@dataclass(frozen=True)
class DependencyOutput:
    task_id: str
    description: str
    output: str


def build_messages(
    role_prompt: str,
    description: str,
    dependencies: Sequence[DependencyOutput] = (),
    *,
    per_dependency_chars: int = PER_DEPENDENCY_CHARS,
    total_chars: int = ALL_DEPENDENCIES_CHARS,
    workspace_context: str = "",
) -> list[dict[str, str]]:
    """System + user messages for a task, with the workspace code chosen for it
    (`workspace_context`, from `server.context.render_selection`) and its dependencies'
    outputs as bounded context."""
    user = description.strip()
    if workspace_context.strip():
        user += "\n\n" + workspace_context.strip()
    if dependencies:
        budget = total_chars
        parts: list[str] = []
        share = max(500, min(per_dependency_chars, total_chars // len(dependencies)))
        for dep in dependencies:
            text = dep.output.strip()
            limit = min(share, budget)
            if limit <= 0:
                parts.append(f"### {dep.task_id}\n(output omitted: context limit reached)")
                continue
            if len(text) > limit:
                text = text[:limit] + f"\n[... {len(dep.output) - limit} more characters not shown]"
            budget -= min(len(dep.output), limit)
            parts.append(f"### {dep.task_id}: {dep.description.strip()[:200]}\n{text}")
        user += "\n\n## Results of the tasks this one depends on\n\n" + "\n\n".join(parts)
    messages = [{"role": "user", "content": user}]
    if role_prompt.strip():
        messages.insert(0, {"role": "system", "content": role_prompt.strip()})
    return messages


def count_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Estimated prompt tokens of `messages` (content plus chat framing)."""
    return 3 + sum(_PER_MESSAGE_TOKENS + count_text_tokens(m.get("content", "")) for m in messages)


def fit_max_tokens(prompt_tokens: int, wanted: int, ceiling: int, max_output: int) -> int | None:
    """The `max_tokens` to send so prompt + output fit in one request (`ceiling`: the model's window,
    or its per-minute limit, `server.catalog.limits.request_ceiling`), or None if the prompt cannot."""
    room = ceiling - prompt_tokens
    wanted = min(wanted, max_output)
    if room < min(MIN_OUTPUT_TOKENS, wanted):
        return None
    return max(1, min(wanted, room))
