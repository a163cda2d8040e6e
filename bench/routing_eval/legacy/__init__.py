"""The hand-set analyzer this project shipped before the learned prior (commit facf8dd), loaded
from git history rather than copied, as a baseline for the routing benchmarks.

    from bench.routing_eval.legacy import legacy_analyze
    legacy_analyze("Fix the login form").complexity

Needs a clone with that commit (not a shallow one); the benchmarks say so if it is missing.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["LEGACY_COMMIT", "legacy_analyze"]

LEGACY_COMMIT = "facf8dd"
_REPO = Path(__file__).resolve().parents[3]


def _module(name: str, path: str, replace: dict[str, str]) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{LEGACY_COMMIT}:{path}"], cwd=_REPO, check=True, capture_output=True, text=True
    ).stdout
    for old, new in replace.items():
        source = source.replace(old, new)
    module = types.ModuleType(name)
    module.__file__ = f"{LEGACY_COMMIT}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def _load() -> Callable[..., Any]:
    try:
        _module("bench_legacy_signals", "server/analysis/signals.py", {})
        analyzer = _module("bench_legacy_analyzer", "server/analysis/analyzer.py",
                           {"from server.analysis import signals as sig": "import bench_legacy_signals as sig"})
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"the legacy analyzer needs commit {LEGACY_COMMIT} in this clone: {exc.stderr}") from exc
    return analyzer.analyze


legacy_analyze = _load()
