"""A failed report rendered as retry feedback."""

from __future__ import annotations

from server.scheduler.validated import feedback_messages
from server.validation.feedback import diagnostics_feedback
from server.validation.model import CheckResult, Diagnostic, ValidationReport


def _report(*checks: CheckResult) -> ValidationReport:
    return ValidationReport(workspace="/w", passed=False, status="failed", checks=list(checks))


def test_feedback_names_failed_checks_with_locations_and_skips_passing_ones() -> None:
    failing = CheckResult(
        name="pytest", kind="test", project=".", language="python", status="failed", exit_code=1,
        diagnostics=[Diagnostic(file="tests/test_calc.py", line=9, code="test-failure",
                                message="test_calc::test_add: assert 4 == 5")],
    )
    passing = CheckResult(name="ruff", kind="lint", project=".", language="python", status="passed")
    text = diagnostics_feedback(_report(failing, passing))
    assert "pytest (test, project .): failed, exit code 1" in text
    assert "tests/test_calc.py:9: test-failure test_calc::test_add: assert 4 == 5" in text
    assert "ruff" not in text
    # what to send back is the caller's to say: an agent's check tool must not ask its agent for a diff
    assert "diff" not in text


def test_a_failed_patch_s_retry_asks_for_the_whole_change_in_either_answer_form() -> None:
    failing = CheckResult(name="pytest", kind="test", project=".", language="python", status="failed", exit_code=1)
    answer, retry = feedback_messages("the failed answer", diagnostics_feedback(_report(failing)))
    assert answer == {"role": "assistant", "content": "the failed answer"}
    assert "pytest (test, project .): failed" in retry["content"]
    assert "unified diff" in retry["content"] and "SEARCH/REPLACE" in retry["content"]
    assert "against the original files" in retry["content"]


def test_timed_out_check_without_diagnostics_shows_its_output_tail() -> None:
    hung = CheckResult(name="pytest", kind="test", project=".", language="python", status="timed_out",
                       output_tail="collected 3 items\ntest_slow.py::test_forever")
    text = diagnostics_feedback(_report(hung))
    assert "killed at the time limit" in text and "| test_slow.py::test_forever" in text


def test_feedback_is_bounded() -> None:
    many = CheckResult(
        name="ruff", kind="lint", project=".", language="python", status="failed",
        diagnostics=[Diagnostic(file=f"f{i}.py", line=i, code="F401", message="x" * 200) for i in range(15)],
        diagnostics_dropped=40,
    )
    text = diagnostics_feedback(_report(*[many] * 5), max_chars=1500)
    assert len(text) <= 1500 and text.endswith("(feedback truncated)")
    assert "and 40 more" in diagnostics_feedback(_report(many))


def test_passed_report_says_so() -> None:
    assert diagnostics_feedback(ValidationReport(workspace="/w", passed=True, status="passed")) == "All checks passed."
