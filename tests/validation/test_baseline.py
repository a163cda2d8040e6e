"""Telling a patch's test failures from those already there at its base commit."""

from __future__ import annotations

from server.validation.baseline import _test_id, failing_tests, old_failures, without_old_failures
from server.validation.model import CheckResult, Diagnostic, ValidationReport


def _failure(test: str, file: str = "tests/test_x.py") -> Diagnostic:
    return Diagnostic(file=file, line=3, code="test-failure", message=f"{test}: assert 1 == 2")


def _report(*diags: Diagnostic, dropped: int = 0) -> ValidationReport:
    pytest = CheckResult(name="pytest", kind="test", project=".", language="python", status="failed",
                         diagnostics=list(diags), diagnostics_dropped=dropped)
    ruff = CheckResult(name="ruff", kind="lint", project=".", language="python", status="passed")
    return ValidationReport(workspace="/w", passed=False, status="failed", checks=[pytest, ruff])


def test_a_test_is_known_by_its_id_even_with_a_colon_inside_its_parameters() -> None:
    assert _test_id("tests.test_x::test_a: assert 1 == 2") == "tests.test_x::test_a"
    assert _test_id("tests.test_x::test_p[key: value]: assert 0") == "tests.test_x::test_p[key: value]"
    assert _test_id("TestAdd failed") == "TestAdd failed"


def test_only_a_check_whose_every_failure_was_there_before_is_forgiven() -> None:
    before = failing_tests(_report(_failure("t::a"), _failure("t::b")))
    assert before is not None and len(before) == 2
    same, forgiven = without_old_failures(_report(_failure("t::a")), before)
    assert same.passed and same.status == "passed" and forgiven == ["t::a"] and "still fail" in same.notes[-1]
    mixed, forgiven = without_old_failures(_report(_failure("t::a"), _failure("t::c")), before)
    assert not mixed.passed and forgiven == [] and mixed.checks[0].status == "failed"
    assert list(old_failures(_report(_failure("t::a"), _failure("t::c")), before)) == ["t::a"]
    # the same test id in another file is another test
    assert not without_old_failures(_report(_failure("t::a", file="tests/test_y.py")), before)[0].passed


def test_a_failed_test_check_that_names_no_test_cannot_be_compared() -> None:
    assert failing_tests(_report()) is None  # a collection error: no per-test failures
    assert failing_tests(_report(_failure("t::a"), dropped=3)) is None  # some failures not listed
    nothing, forgiven = without_old_failures(_report(), frozenset())
    assert not nothing.passed and forgiven == []


def test_a_test_check_that_also_failed_to_compile_is_never_forgiven() -> None:
    before = failing_tests(_report(_failure("t::a")))
    assert before is not None
    broken = Diagnostic(file="core/src/lib.rs", line=13, code="E0308", message="mismatched types")
    assert failing_tests(_report(_failure("t::a"), broken)) is None  # one target did not build
    kept, forgiven = without_old_failures(_report(_failure("t::a"), broken), before)
    assert not kept.passed and forgiven == []
