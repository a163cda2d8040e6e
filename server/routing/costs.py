"""Cost and time estimates for one model call, from the catalogue's prices and speeds.

cost = input_tokens x input price + billed output tokens x output price (USD per million tokens)
time = first_token_seconds + billed output tokens / tokens_per_second

Reasoning models (o1 / o3 class) bill hidden reasoning tokens as output; we assume as many
hidden tokens as visible ones (`REASONING_OUTPUT_FACTOR`). Local and free models cost 0; a paid
model with unknown prices has no estimate (None).
"""

from __future__ import annotations

from server.catalog.schema import ModelSpec

__all__ = ["REASONING_OUTPUT_FACTOR", "billed_output_tokens", "estimate_cost", "estimate_time"]

REASONING_OUTPUT_FACTOR = 2.0


def billed_output_tokens(model: ModelSpec, output_tokens: int) -> int:
    return int(output_tokens * REASONING_OUTPUT_FACTOR) if model.reasoning else output_tokens


def estimate_cost(model: ModelSpec, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call, or None when the model is paid and its prices are unknown."""
    if model.tier != "paid":
        return 0.0
    if model.input_per_mtok is None or model.output_per_mtok is None:
        return None
    billed = billed_output_tokens(model, output_tokens)
    return (input_tokens * model.input_per_mtok + billed * model.output_per_mtok) / 1_000_000


def estimate_time(model: ModelSpec, output_tokens: int) -> float:
    """Seconds until the whole answer has streamed."""
    return model.first_token_seconds + billed_output_tokens(model, output_tokens) / model.tokens_per_second
