"""Operator commands of `parallel-work-manager` (dispatched by `server.cli`).

Each module exposes `add_arguments(parser)` and `async run(args, settings) -> int`, prints
human-readable output to stdout (these commands never speak MCP) and machine output with
`--json`:

    report       spend, calls, tokens, success, latency, budget, saving and recommendations
    models_cmd   `models list | test NAME | sync`
    doctor       keys present (by variable name only), providers reachable, database, tokenizer
"""

__all__: list[str] = []
