"""Model health: demoted under 80% over 10+ calls, cooled at once by timeouts, probed once, restored."""

from __future__ import annotations

from server.perf.health import HealthPolicy, ModelHealth
from server.perf.stats import AttemptFact


def _fact(t: float, ok: bool, error: str = "bad_response", status: int | None = None) -> AttemptFact:
    return AttemptFact("m", "succeeded" if ok else "failed", t, error_class=None if ok else error, http_status=status)


def test_model_is_not_judged_before_ten_calls() -> None:
    health = ModelHealth("m")
    for i in range(9):
        health.record(_fact(i, ok=i % 2 == 0, error="validation_failed"))
    assert health.state(10) == "healthy"


def test_success_under_eighty_percent_over_ten_calls_demotes() -> None:
    health = ModelHealth("m")
    outcomes = [True, False, True, True, False, True, True, True, False, True]  # 70%
    for i, ok in enumerate(outcomes):
        health.record(_fact(i, ok, error="validation_failed"))
    assert health.state(10) == "demoted"
    assert "failed 3 of its last 10 calls" in health.reason


def test_three_timeouts_in_a_row_cool_the_model_at_once() -> None:
    health = ModelHealth("m")
    health.record(_fact(0, ok=True))
    for i in range(1, 4):
        health.record(_fact(i, ok=False, error="timeout"))
    assert health.state(4) == "cooled"
    assert "3 timeouts / server errors in a row" in health.reason


def test_5xx_status_counts_as_transient_whatever_the_class() -> None:
    health = ModelHealth("m")
    for i in range(3):
        health.record(_fact(i, ok=False, error="backend_error", status=503))
    assert health.state(3) == "cooled"


def test_rate_limits_and_cancellations_say_nothing_about_the_model() -> None:
    health = ModelHealth("m")
    for i in range(20):
        health.record(AttemptFact("m", "failed", i, error_class="rate_limited"))
        health.record(AttemptFact("m", "cancelled", i))
    assert health.state(30) == "healthy"
    assert not health.recent


def test_one_probe_after_the_cool_down_then_restored_on_success() -> None:
    policy = HealthPolicy(cooldown_s=100.0)
    health = ModelHealth("m", policy)
    for i in range(10):
        health.record(_fact(i, ok=False, error="validation_failed"))
    assert health.state(50) == "demoted"
    assert not health.begin_call(50)  # still cooling: no probe
    assert health.state(120) == "probe_due"
    assert health.begin_call(120)  # this call is the probe
    assert health.state(121) == "probing"
    assert not health.begin_call(121)  # only one probe at a time
    health.record(_fact(120, ok=True))
    assert health.state(122) == "healthy"
    assert [e.event for e in health.events] == ["demoted", "probe_started", "restored"]
    assert not health.recent  # judged afresh from here


def test_failed_probe_doubles_the_cool_down() -> None:
    health = ModelHealth("m", HealthPolicy(cooldown_s=100.0, max_cooldown_s=150.0))
    for i in range(10):
        health.record(_fact(i, ok=False, error="validation_failed"))
    health.begin_call(200)
    health.record(_fact(200, ok=False, error="validation_failed"))
    assert health.state(201) == "demoted"
    assert health.cooldown_s == 150.0  # doubled, capped
    assert health.state(200 + 151) == "probe_due"


def test_results_of_calls_started_before_the_demotion_do_not_count_as_probes() -> None:
    health = ModelHealth("m", HealthPolicy(cooldown_s=100.0))
    for i in range(10):
        health.record(_fact(i, ok=False, error="validation_failed"))
    health.record(_fact(5, ok=True))  # in flight when it was demoted
    assert health.state(20) == "demoted"


def test_a_probe_whose_result_never_arrives_expires() -> None:
    health = ModelHealth("m", HealthPolicy(cooldown_s=10.0, probe_timeout_s=60.0))
    for i in range(10):
        health.record(_fact(i, ok=False, error="validation_failed"))
    assert health.begin_call(30)
    assert health.state(60) == "probing"
    assert health.state(95) == "probe_due"
