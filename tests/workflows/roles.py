"""Script the loopback provider per role: each request is answered from the queue of the first
role whose marker its prompt contains (several tasks share one model, in any order)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.loopback_wire import Behaviour, RecordedRequest, Respond

__all__ = ["script_roles"]


def script_roles(lp: LoopbackProvider, model: str, roles: Mapping[str, Sequence[Behaviour]]) -> None:
    """Answer `model`'s requests by role: the marker found in the last user message picks the
    queue (the latest turn says what is asked); a role whose queue is empty answers "ok"."""
    queues = {marker: deque(replies) for marker, replies in roles.items()}

    def answer(request: RecordedRequest) -> Behaviour:
        users = [m for m in request.messages if m.get("role") == "user"]
        texts = [str(users[-1].get("content", ""))] if users else []
        texts.append(request.prompt)
        for text in texts:
            for marker, queue in queues.items():
                if marker in text:
                    return queue.popleft() if queue else Reply("ok")
        return Reply("ok")

    lp.set_default(Respond(answer), model)
