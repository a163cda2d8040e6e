"""A milestone's checklist: parse a planner model's answer and validate it before anyone sees
it — a DAG, no duplicate or orphan item, every item with a check that proves it done, sizes
within the policy.

    checklist = parse_checklist(model_text, max_items=12, allowed_sizes=("small", "medium"))

`PlanProblem` lists every problem at once, worded so the planner model can fix them on a retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from server.errors import InputError
from server.scheduler.dag import validate_dag

__all__ = ["Checklist", "ChecklistItem", "ItemCheck", "PlanProblem", "parse_checklist"]

_JSON_BLOCK = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlanProblem(InputError):
    """The plan is malformed; `problems` lists each defect in words the planner can act on."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("plan", "; ".join(self.problems))


@dataclass(frozen=True)
class ItemCheck:
    """What proves an item done: tests to run, files that must change, a project command."""

    tests: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    command: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tests or self.files or self.command)


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    title: str
    description: str
    depends_on: tuple[str, ...]
    check: ItemCheck
    size: str = "small"


@dataclass(frozen=True)
class Checklist:
    items: tuple[ChecklistItem, ...]
    order: tuple[str, ...]  # a topological order of the item ids
    notes: list[str] = field(default_factory=list)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if str(v).strip())
    return ()


def _load(text: str) -> Any:
    blocks = _JSON_BLOCK.findall(text)
    candidates = [*blocks, text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise PlanProblem(['the answer holds no JSON object; answer with {"items": [...]} in a ```json block'])


def parse_checklist(
    text: str, *, max_items: int = 12, min_items: int = 1, allowed_sizes: Sequence[str] = ("small", "medium")
) -> Checklist:
    """Parse and validate a planner's answer.

    Raises:
        PlanProblem: every defect found (no JSON, missing fields, duplicates, unknown
            dependencies, a cycle, an item without a check, a size beyond the policy).
    """
    data = _load(text)
    raw_items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(raw_items, list) or not raw_items:
        raise PlanProblem(['"items" must be a non-empty list of checklist items'])
    problems: list[str] = []
    if len(raw_items) > max_items:
        problems.append(f"{len(raw_items)} items is more than the {max_items} allowed; merge small steps")
    if len(raw_items) < min_items:
        problems.append(f"{len(raw_items)} items is fewer than the {min_items} required; split the work")
    items: list[ChecklistItem] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_items, 1):
        if not isinstance(raw, dict):
            problems.append(f"item {n} is not an object")
            continue
        item_id = str(raw.get("id") or "").strip()
        if not _ID.match(item_id):
            problems.append(f"item {n}: id {item_id!r} must be a short name of letters, digits, _ . -")
            continue
        if item_id in seen:
            problems.append(f"item {item_id!r} appears twice; give each item its own id")
            continue
        seen.add(item_id)
        title = str(raw.get("title") or "").strip()
        if not title:
            problems.append(f"item {item_id!r} has no title")
        raw_check: dict[str, Any] = raw["check"] if isinstance(raw.get("check"), dict) else {}
        check = ItemCheck(_strings(raw_check.get("tests")), _strings(raw_check.get("files")),
                          _strings(raw_check.get("command")))
        if check.empty:
            problems.append(f"item {item_id!r} has no check: name tests to run, files that must change, "
                            "or a command from the project's own tools")
        size = str(raw.get("size") or "small").strip().lower()
        if size not in allowed_sizes:
            problems.append(f"item {item_id!r} is {size!r}; the policy allows {', '.join(allowed_sizes)}: split it")
        items.append(ChecklistItem(item_id, title, str(raw.get("description") or title).strip(),
                                   _strings(raw.get("depends_on")), check, size))
    ids = [i.id for i in items]
    for item in items:
        for dep in item.depends_on:
            if dep not in seen:
                problems.append(f"item {item.id!r} depends on {dep!r}, which is not in the plan")
    order: list[str] = []
    if not problems:
        try:
            order = validate_dag(ids, {i.id: i.depends_on for i in items})
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise PlanProblem(problems)
    return Checklist(tuple(items), tuple(order))
