"""The seed's routing cases (`seed_examples.jsonl`), read where the shared folder lives.

`PWM_ROUTING_CASES` names the file; otherwise it is `shared/routing-cases/seed_examples.jsonl`
beside the checkout or beside any folder above it (the layout of the project's machines and of
CI, which lays `shared/` next to its clone). A missing file fails the test that needs it: these
cases are the user's, and a test that silently skips them proves nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["load_cases", "routing_cases_path"]

_RELATIVE = Path("shared") / "routing-cases" / "seed_examples.jsonl"


def routing_cases_path() -> Path | None:
    """The seed cases file, or None when neither `PWM_ROUTING_CASES` nor the layout has it."""
    explicit = os.environ.get("PWM_ROUTING_CASES", "").strip()
    if explicit:
        return Path(explicit)
    for folder in Path(__file__).resolve().parents:
        if (folder / _RELATIVE).is_file():
            return folder / _RELATIVE
    return None


def load_cases() -> list[dict[str, Any]]:
    """Every seed case; fails the calling test (not skips) when the file is missing."""
    path = routing_cases_path()
    if path is None or not path.is_file():
        pytest.fail(
            f"seed routing cases not found ({path or _RELATIVE} beside the checkout or a folder above it); "
            "set PWM_ROUTING_CASES to the seed_examples.jsonl file"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
