"""The kind of request (server/analysis/request_kind.py): exact work, open-ended writing, or neither."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.analysis import analyze
from server.analysis.prior import LengthTerm, beyond_trained_length, load_prior
from server.analysis.request_kind import is_open_question, request_kind


def test_code_and_mathematics_are_exact_work() -> None:
    assert request_kind("Implement a queue with two stacks in Python") == 1
    assert request_kind("Solve 3x + 5 = 20 for x") == 1
    assert request_kind("Why does `parse_config()` return None on an empty file?") == 1
    assert request_kind("What is the probability of two sixes in three rolls of a die?") == 1


def test_poems_letters_and_role_play_are_open_ended_writing() -> None:
    assert request_kind("Write a short poem about autumn leaves in a quiet park") == -1
    assert request_kind("Compose a farewell letter to my colleagues at the bakery") == -1
    assert request_kind("Pretend you are a pirate captain and rally your crew") == -1


def test_writing_code_is_code_and_a_user_story_is_not_creative_writing() -> None:
    assert request_kind("Write a function that reverses a linked list") == 1
    assert request_kind("Create user stories for the checkout and refund pages") == 0


def test_a_question_that_is_neither_is_neutral() -> None:
    assert request_kind("What were the main causes of the French Revolution?") == 0


def test_open_ended_writing_loses_its_points_at_any_length_and_exact_work_never_moves() -> None:
    term = LengthTerm("chars", 74, 0.5, 5.0, writing_points=3.0, other_points=1.0, kind_at_any_length=True)
    assert beyond_trained_length(1.0, "Write a haiku about rain", term) == -2.0
    assert beyond_trained_length(1.0, "Explain the French Revolution", term) == 0.0
    assert beyond_trained_length(1.0, "Implement binary search in Go", term) == 1.0
    phased = replace(term, kind_at_any_length=False)
    assert beyond_trained_length(1.0, "Write a haiku about rain", phased) == 1.0  # within the titles' length


def test_the_shipped_router_scores_a_poem_below_the_same_length_of_code() -> None:
    assert load_prior().length.writing_points > 0
    poem = analyze("Write a poem about the sea at night, in four stanzas, for my sister's birthday card")
    code = analyze("Write a Python script that parses the sea-level CSV at night and plots four stanzas of data")
    assert poem.score < code.score


def test_open_questions_are_told_from_questions_with_one_right_answer() -> None:
    assert is_open_question("How can I improve my time management skills?")
    assert is_open_question("Explain the process of natural selection and how it shapes species.")
    assert is_open_question("As a pirate captain, what would you say to rally your crew?")
    assert not is_open_question("How do I fix `parse_config()` returning None on an empty file?")  # code
    assert not is_open_question("What is the probability of two sixes in three rolls of a die?")  # maths
    assert not is_open_question("Which of the following is true?\nA. Every compact space is complete\nB. Neither")
    assert not is_open_question("What is the distance between (2, -2) and (10, 4)?")  # stated quantities


def test_task_titles_and_issue_reports_are_not_open_questions() -> None:
    assert not is_open_question("Add a login page with remember-me")
    assert not is_open_question("# Title\nSearch flags break navigation. What did you expect? Results.")
    assert not is_open_question("Design database schema with proper normalization and indexing strategy")


def test_an_open_question_loses_its_points_unless_it_is_writing() -> None:
    term = LengthTerm("chars", 74, 0.5, 5.0, writing_points=3.0, question_points=2.0, kind_at_any_length=True)
    assert beyond_trained_length(1.0, "How can I deal with stress at work?", term) == -1.0
    assert beyond_trained_length(1.0, "Can you help me write a poem for my mother?", term) == -2.0  # writing wins
    assert beyond_trained_length(1.0, "Add a login page with remember-me", term) == 1.0


def test_the_shipped_router_scores_an_open_question_below_a_coding_question_of_its_length() -> None:
    assert load_prior().length.question_points > 0
    chat = analyze("What are the most effective ways for a small team to deal with stress at work?")
    code = analyze("What are the most effective ways for a small team to parse nested JSON in Python?")
    assert chat.score < code.score


def test_a_question_about_software_work_keeps_its_score() -> None:
    term = LengthTerm("chars", 74, 0.5, 5.0, question_points=3.0, kind_at_any_length=True)
    question = "How should we design the authentication architecture for a multi-tenant SaaS with SSO?"
    lifted = beyond_trained_length(1.0, question, term, software=True)
    assert lifted == pytest.approx(beyond_trained_length(1.0, question, term) + 3.0)
    # Through the shipped analyzer: design and refactoring questions are not small talk.
    for text in (question, "What is the best way to refactor the payment module to support refunds?",
                 "Explain the race condition in the job queue worker"):
        as_task = analyze(text.rstrip("?").replace("How should we", "Design").replace("What is the best way to", ""))
        assert analyze(text).score >= as_task.score - 1.5, text
    assert analyze("How can I deal with stress at work?").score < analyze(question).score - 3
