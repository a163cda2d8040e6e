"""Test support shared by the whole suite: the loopback model provider (a real HTTP server).

Names are loaded lazily so `python -m tests.support.loopback_provider` runs without the module
being imported twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.loopback_provider import (
        Hang,
        LoopbackProvider,
        Malformed,
        RecordedRequest,
        Reply,
        Respond,
        Status,
        StreamError,
        Truncate,
    )

__all__ = [
    "Hang",
    "LoopbackProvider",
    "Malformed",
    "RecordedRequest",
    "Reply",
    "Respond",
    "Status",
    "StreamError",
    "Truncate",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tests.support.loopback_provider"), name)
    raise AttributeError(f"module 'tests.support' has no attribute {name!r}")
