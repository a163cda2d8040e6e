"""The analyzer reads coding signals (kind, risk, scope) and lets explicit hints win."""

from __future__ import annotations

import pytest

from server.analysis import TaskHints, analyze, count_tokens
from server.analysis.analyzer import TOKENS_PER_FILE
from server.errors import InputError


def test_payment_integration_is_integration_work_with_payment_risk() -> None:
    analysis = analyze("Implement payment integration with Stripe API")
    assert analysis.task_type == "integration"
    assert "payment" in analysis.risks
    assert analysis.complexity >= 7


def test_simple_crud_scores_low_and_says_why() -> None:
    analysis = analyze("Create product CRUD operations with basic validation")
    assert analysis.task_type == "crud"
    assert analysis.complexity <= 3
    assert "kind:crud" in analysis.signals


@pytest.mark.parametrize(
    ("description", "task_type"),
    [
        ("Write API documentation for the authentication endpoints", "docs"),
        ("Add unit tests for the pricing calculator edge cases", "tests"),
        ("Fix broken email notification templates", "bug_fix"),
        ("Design event-driven architecture for order processing with Kafka", "architecture"),
        ("Optimize slow database queries causing timeouts", "performance"),
        ("Set up GitHub Actions CI to run lint and tests on every pull request", "devops"),
        ("Build responsive product catalog interface", "ui"),
        ("Implement Dijkstra's shortest path for the delivery route planner", "algorithm"),
        ("Fix SQL injection vulnerability in the search endpoint", "security"),
    ],
)
def test_reads_the_kind_of_work(description: str, task_type: str) -> None:
    assert analyze(description).task_type == task_type


def test_risk_words_raise_complexity_over_the_same_work_without_them() -> None:
    plain = analyze("Fix the job queue worker so jobs are logged")
    risky = analyze("Fix race condition in the job queue worker that causes jobs to be processed twice")
    assert "concurrency" in risky.risks
    assert risky.complexity > plain.complexity


def test_system_wide_work_scores_above_the_same_work_in_one_function() -> None:
    local = analyze("Add input validation to the parse_date helper function")
    system = analyze("Add input validation across all services of the platform")
    assert (local.scope, system.scope) == ("function", "system")
    assert system.complexity > local.complexity


def test_a_long_trivial_request_stays_below_a_short_hard_one() -> None:
    wordy = analyze(
        "Please, when you get a moment and only if it is convenient for you and the rest of the team, "
        "fix the small typo in the README installation section where it says 'instal' instead of 'install'"
    )
    terse = analyze("Implement a lock-free concurrent hash map in Rust")
    assert wordy.complexity <= 2
    # Above the balanced tier's floor and far above the wordy trivial request.
    assert terse.complexity >= 6
    assert terse.complexity >= wordy.complexity + 4


def test_explicit_complexity_wins_with_full_confidence() -> None:
    analysis = analyze("Fix typo in README", TaskHints(complexity=9))
    assert analysis.complexity == 9
    assert analysis.confidence == 1.0
    assert "hint:complexity" in analysis.signals


def test_explicit_task_type_wins() -> None:
    assert analyze("Fix typo in README", TaskHints(task_type="security")).task_type == "security"


@pytest.mark.parametrize(("effort", "low", "high"), [("simple", 1, 3), ("complex", 7, 8), ("very_complex", 9, 10)])
def test_estimated_effort_clamps_complexity_into_its_band(effort: str, low: int, high: int) -> None:
    for description in ("Fix typo in README", "Split the monolith into microservices for billing and inventory"):
        complexity = analyze(description, TaskHints(estimated_effort=effort)).complexity  # type: ignore[arg-type]
        assert low <= complexity <= high


def test_files_set_the_scope_and_the_context_estimate() -> None:
    files = ("a.py", "b.py", "c.py")
    analysis = analyze("Rename the logger", TaskHints(files=files))
    assert analysis.scope == "multi_file"
    assert analysis.input_tokens == count_tokens("Rename the logger") + TOKENS_PER_FILE * len(files)


def test_context_tokens_add_to_the_input_tokens() -> None:
    text = "Summarise the failing test output"
    assert analyze(text, TaskHints(context_tokens=5000)).input_tokens == count_tokens(text) + 5000


def test_joined_description_lists_subtasks_and_costs_more_output() -> None:
    single = analyze("Add auth middleware")
    joined = analyze("Add auth middleware and implement caching")
    assert joined.subtasks == ("Add auth middleware", "implement caching")
    assert joined.output_tokens > single.output_tokens


@pytest.mark.parametrize(
    ("hints", "field"),
    [(TaskHints(complexity=0), "complexity"), (TaskHints(complexity=11), "complexity"), (TaskHints(task_type="poetry"), "task_type")],
)
def test_out_of_range_hints_are_input_errors_naming_the_field(hints: TaskHints, field: str) -> None:
    with pytest.raises(InputError) as info:
        analyze("Fix a bug", hints)
    assert info.value.field == field
    assert info.value.accepted


def test_an_empty_description_is_an_input_error_naming_the_field() -> None:
    with pytest.raises(InputError) as info:
        analyze("   ")
    assert info.value.field == "task_description"


def test_signals_read_the_same_whatever_the_case() -> None:
    # The signal patterns match lowercased text: a shouted or title-cased task reads as the same task.
    quiet = analyze("fix the jwt login bug in the payment checkout api")
    for text in ("FIX THE JWT LOGIN BUG IN THE PAYMENT CHECKOUT API", "Fix The JWT Login Bug In The Payment Checkout API"):
        loud = analyze(text)
        assert (loud.task_type, loud.risks) == (quiet.task_type, quiet.risks)
        assert [s for s in loud.signals if not s.startswith("breadth")] == [s for s in quiet.signals if not s.startswith("breadth")]
    assert {"payment", "auth"} <= set(quiet.risks) and quiet.task_type == "security"
