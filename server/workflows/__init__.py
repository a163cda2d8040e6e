"""The seeds' workflows built on tasks: a milestone turned into a checked checklist
(`checklist.py`), tests written first and held fixed (`test_first.py`)."""

from server.workflows.checklist import Checklist, ChecklistItem, ItemCheck, PlanProblem, parse_checklist
from server.workflows.test_first import TestFirstVerdict, check_tests_fail_first, diff_touches

__all__ = [
    "Checklist",
    "ChecklistItem",
    "ItemCheck",
    "PlanProblem",
    "TestFirstVerdict",
    "check_tests_fail_first",
    "diff_touches",
    "parse_checklist",
]
