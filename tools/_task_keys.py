"""Keys of a submitted task that are not its fields: slips of the pen, or blocks kept on purpose.

A task accepts keys beyond its fields (the seeds' `model_routing`, `routing`, `quality_gates`,
...: kept with the task, used by nothing), so pydantic cannot refuse an unknown key the way it
refuses an unknown argument. `misspelt_keys` finds the keys that are slips for a field
(`dependson`, `workspce`, `validat`, `timeout`): dropped silently, such a task would run without
its dependency, its workspace, its check or its time limit. `kept_keys_warning` names the rest,
so a caller sees what the server keeps but does not read.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["CLOSE_SPELLING", "kept_keys_warning", "misspelt_keys", "slip_for"]

CLOSE_SPELLING = 0.85
"""difflib's ratio from which an unknown key is taken for a field's misspelling: a letter left out
or added (`workspce` 0.94, `dependson` 0.95, `validat` 0.93, `tag` 0.86) is caught, while no key
the seeds write beside their tasks is (`estimated_cost` is 0.8 from `estimated_effort`,
`complexity_score` 0.77 from `complexity`)."""

# Spelled within CLOSE_SPELLING of a field but meaning something else: `model` names a model
# (the seeds write it in their routing blocks), it is not a slip for `mode`.
_WORDS_OF_THEIR_OWN = frozenset({"model"})

# A field's name with its unit left off is a slip too (`timeout`, `timeout_s` for `timeout_seconds`).
# Only seconds: `_tokens` off `context_tokens` leaves `context`, a block of the seeds' own.
_UNITS = ("_seconds",)

_KEPT_LISTED = 10  # keys named in the warning; the rest are counted
_KEY_CHARS = 40  # of a key named in the warning: the line stays short whatever a caller sends


def slip_for(key: str, fields: Sequence[str]) -> str | None:
    """The field `key` is a slip for, or None when it is not one (see the module docstring)."""
    if key in fields or key in _WORDS_OF_THEIR_OWN:
        return None
    for field in fields:
        for unit in _UNITS:
            if field.endswith(unit) and key in (field.removesuffix(unit), field.removesuffix(unit) + "_s"):
                return field
    near = difflib.get_close_matches(key, fields, n=1, cutoff=CLOSE_SPELLING)
    return near[0] if near else None


def misspelt_keys(extras: Iterable[Iterable[str]], fields: Sequence[str]) -> list[str]:
    """For each task's extra keys (in task order): `tasks[i].<key>: unknown task field (did you mean
    <field>?)` for every slip."""
    found = []
    for index, keys in enumerate(extras):
        for key in keys:
            field = slip_for(key, fields)
            if field is not None:
                found.append(f"tasks[{index}].{key}: unknown task field (did you mean {field}?)")
    return found


def kept_keys_warning(extras: Iterable[Iterable[str]]) -> str | None:
    """One line naming the keys kept with the tasks but not read (each with how many tasks carry
    it), or None when there are none. One line for the whole group: a seed's block repeated on 500
    tasks is said once."""
    counts: dict[str, int] = {}
    for keys in extras:
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    named = [f"{_short(key)} ({n} task{'s' if n != 1 else ''})" for key, n in list(counts.items())[:_KEPT_LISTED]]
    more = len(counts) - len(named)
    return ("Kept with the tasks but not read by the server (not task fields): " + ", ".join(named)
            + (f" and {more} more" if more else "") + ".")


def _short(key: str) -> str:
    return key if len(key) <= _KEY_CHARS else key[: _KEY_CHARS - 3] + "..."
