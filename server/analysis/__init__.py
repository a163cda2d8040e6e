"""Task analysis: read a coding task's description and hints into a `TaskAnalysis`.

`analyze(description, hints)` is pure and fast; `count_tokens` / `token_counter_status` live in
`server.analysis.tokens`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from server.analysis.analyzer import analyze, estimate_output_tokens
    from server.analysis.subtasks import split_subtasks
    from server.analysis.tokens import count_tokens, token_counter_status
    from server.analysis.types import (
        BUDGET_MODES,
        EFFORTS,
        QUALITY_REQUIREMENTS,
        SCOPES,
        SEVERITIES,
        TASK_TYPES,
        TaskAnalysis,
        TaskHints,
    )

# Each name loads its module on first use (PEP 562), so `server.analysis.types` imports alone
# (the tools' schemas need it; the analyzer and the tokenizer load when first used).
_LAZY: dict[str, str] = {
    "BUDGET_MODES": "server.analysis.types",
    "EFFORTS": "server.analysis.types",
    "QUALITY_REQUIREMENTS": "server.analysis.types",
    "SCOPES": "server.analysis.types",
    "SEVERITIES": "server.analysis.types",
    "TASK_TYPES": "server.analysis.types",
    "TaskAnalysis": "server.analysis.types",
    "TaskHints": "server.analysis.types",
    "analyze": "server.analysis.analyzer",
    "count_tokens": "server.analysis.tokens",
    "estimate_output_tokens": "server.analysis.analyzer",
    "split_subtasks": "server.analysis.subtasks",
    "token_counter_status": "server.analysis.tokens",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "BUDGET_MODES",
    "EFFORTS",
    "QUALITY_REQUIREMENTS",
    "SCOPES",
    "SEVERITIES",
    "TASK_TYPES",
    "TaskAnalysis",
    "TaskHints",
    "analyze",
    "count_tokens",
    "estimate_output_tokens",
    "split_subtasks",
    "token_counter_status",
]
