"""Task analysis: read a coding task's description and hints into a `TaskAnalysis`.

`analyze(description, hints)` is pure and fast; `count_tokens` / `token_counter_status` live in
`server.analysis.tokens`.
"""

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
