"""An answer no check could judge (the task's checks could not run: `validation_unavailable`) is
not the model's failure: neither the cost report nor routing insights count it, whether they read
the live tracker or the store's rows (a server started afresh on the same database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import load_settings
from tests.e2e.helpers import DOCSTRING_TASK, MUL_DOCSTRING, call, run_validated
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.validation.helpers import make_repo

OPS = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def _model_row(report: dict[str, Any], model: str) -> dict[str, Any]:
    (row,) = [r for r in report["rows"] if r["key"] == model]
    return row


def _cells(insights: dict[str, Any], model: str) -> list[dict[str, Any]]:
    return [c for c in insights["cells"] if c["model_id"] == model]


async def test_an_answer_whose_checks_could_not_run_counts_neither_as_failure_nor_in_insights(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS})  # no test file: the asked-for test check cannot run
    with LoopbackProvider() as lp:
        lp.set_default(Reply(MUL_DOCSTRING))
        settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
        async with Client(build_server(settings)) as client:
            task = await run_validated(client, repo, DOCSTRING_TASK, checks=["test"])
            assert task["status"] == "failed" and task["error_class"] == "validation_unavailable"
            (attempt,) = task["attempts"]
            model = attempt["model"]
            report = await call(client, "get_cost_report", {"days": 1})
            live = await call(client, "get_routing_insights", {"model_id": model})
        async with Client(build_server(settings)) as client:  # the tracker rebuilt from the store's rows
            stored = await call(client, "get_routing_insights", {"model_id": model})
    row = _model_row(report, model)
    assert row["calls"] == 1 and row["failures"] == 0 and row["successes"] == 0
    assert row["validation_pass_rate"] is None and row["success_rate"] is None
    for insights in (live, stored):
        assert all(c["decayed_failures"] == 0 for c in _cells(insights, model)), insights["cells"]
        assert all(m["recent_success_rate"] is None for m in insights["models"]), insights["models"]
