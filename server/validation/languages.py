"""The languages validation knows, one record each (markers, source suffixes, planner).

Adding a language: write its `<name>_checks.py` with a `LANGUAGE = LanguageSpec(...)` record
and list that record here. Nothing else names languages.
"""

from __future__ import annotations

from server.validation import go_checks, node_checks, python_checks, rust_checks
from server.validation.checks_base import LanguageSpec

__all__ = ["LANGUAGES", "by_name"]

LANGUAGES: tuple[LanguageSpec, ...] = (
    python_checks.LANGUAGE,
    node_checks.LANGUAGE,
    rust_checks.LANGUAGE,
    go_checks.LANGUAGE,
)


def by_name() -> dict[str, LanguageSpec]:
    return {language.name: language for language in LANGUAGES}
