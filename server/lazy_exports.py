"""Module-level `__getattr__` for packages that export names lazily (PEP 562).

A package maps each exported name to the module that defines it; the module is imported on the
name's first use and the value kept in the package, so later lookups are plain attribute reads.
Keeps the stdio server's start-up from importing the engine before it has listed its tools.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` for `package`: `exports` maps a name to its defining module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
