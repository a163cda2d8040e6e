"""How much workspace text a task gets by default, and who may receive it at all.

The default budget follows the model and the policy: what the model's context window leaves
after the answer (the policy's `max_tokens`, capped by the model's output limit) and a reserve
for the description, role prompt and a retry's feedback, halved so a validation retry that
appends the failed answer and its diagnostics still fits; and at most four times the policy's
answer size (a quick `ops` task gets less code than a `deep_research` one). An explicit budget
from the caller wins. With `local_only`, workspace text goes to local models only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported for the type only: index worker processes import this package
    from server.catalog.schema import Catalog

__all__ = ["DEFAULT_POLICY_ANSWER", "default_budget", "workspace_text_allowed"]

DEFAULT_POLICY_ANSWER = 4000
PROMPT_RESERVE = 2000
MIN_BUDGET = 1000
MAX_DEFAULT = 64_000


def default_budget(context_window: int, max_output_tokens: int, policy_max_tokens: int | None) -> int:
    """The context budget for a model with `context_window`, under a policy answering up to
    `policy_max_tokens` (None: no policy)."""
    answer = min(max_output_tokens, policy_max_tokens or DEFAULT_POLICY_ANSWER)
    room = (context_window - answer - PROMPT_RESERVE) // 2
    cap = min(MAX_DEFAULT, 4 * (policy_max_tokens or DEFAULT_POLICY_ANSWER))
    return max(MIN_BUDGET, min(room, cap))


def workspace_text_allowed(model_ids: Iterable[str], catalog: Catalog, local_only: bool) -> bool:
    """False when `local_only` is on and any of `model_ids` (a task's whole chain) is served by a
    provider that is not local: workspace text must then not be put in the prompt."""
    if not local_only:
        return True
    for model_id in model_ids:
        model = catalog.models.get(model_id)
        provider = catalog.providers.get(model.provider) if model is not None else None
        if provider is None or not provider.local:
            return False
    return True
