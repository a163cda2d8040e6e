"""Cost and time estimates for one model call, from the catalogue's prices and speeds.

cost = input_tokens x input price + billed output tokens x output price (USD per million tokens)
time = first_token_seconds + billed output tokens / tokens_per_second

Reasoning models (o1 / o3 class) bill hidden reasoning tokens as output; we assume as many
hidden tokens as visible ones (`REASONING_OUTPUT_FACTOR`). Local and free models cost 0; a paid
model with unknown prices has no estimate (None).

A reservation (what the ledger holds while a call runs) is made from two figures: the realistic
estimate (the expected output, as routing plans it) and the cap (the maximum output the call is
allowed). The ledger scales both by what it has learned of the model's real charges; reserving
the expected output rather than the maximum lets a small budget admit small calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.schema import ModelSpec

__all__ = [
    "REASONING_OUTPUT_FACTOR",
    "ReservationEstimate",
    "billed_output_tokens",
    "estimate_cost",
    "estimate_time",
    "reservation_estimate",
]

REASONING_OUTPUT_FACTOR = 2.0
# When a plan carries no expected output, expect this share of the maximum.
DEFAULT_OUTPUT_SHARE = 0.25


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


@dataclass(frozen=True)
class ReservationEstimate:
    estimate: float  # USD at catalogue prices for the expected output
    cap: float  # USD at catalogue prices for the maximum output


def reservation_estimate(
    model: ModelSpec, input_tokens: int, expected_output: int | None, max_tokens: int
) -> ReservationEstimate | None:
    """The two figures a call's reservation is made from; None when a paid model's price is unknown."""
    cap = estimate_cost(model, input_tokens, max_tokens)
    if cap is None:
        return None
    expected = expected_output if expected_output else int(max_tokens * DEFAULT_OUTPUT_SHARE)
    estimate = estimate_cost(model, input_tokens, max(1, min(expected, max_tokens)))
    return ReservationEstimate(estimate or 0.0, cap)
