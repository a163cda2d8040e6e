"""`output_tokens_per_s` in the cost report: a plausible speed whatever the stream's timing."""

from __future__ import annotations

import time
from pathlib import Path

from server.perf.report import build_report
from server.perf.stats import AttemptFact
from tests.perf.catalog_fixture import write_catalog


def _fact(latency_ms: float, first_token_ms: float | None, output_tokens: int = 1000) -> AttemptFact:
    return AttemptFact(model_id="loop/cheap", status="succeeded", started_at=time.time() - 60, provider="loopback",
                       output_tokens=output_tokens, input_tokens=100, latency_ms=latency_ms,
                       first_token_ms=first_token_ms, cost=0.0, charged=0.0)


def test_a_buffered_answer_is_timed_over_the_whole_call_not_its_last_millisecond(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "m")
    # 1.5 s calls whose 1,000 tokens all arrived within a millisecond of the first one.
    facts = [_fact(1500.0, 1499.42), _fact(1500.0, 1499.5), _fact(1500.0, None)]
    report = build_report(facts, catalog, days=1)
    assert report["totals"]["output_tokens_per_s"] == 666.7


def test_a_streamed_answer_is_timed_after_its_first_token(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "m")
    facts = [_fact(1500.0, 500.0)]  # 1,000 tokens over the last second
    assert build_report(facts, catalog, days=1)["totals"]["output_tokens_per_s"] == 1000.0
