"""The kind of request (server/analysis/request_kind.py): exact work, open-ended writing, or neither."""

from __future__ import annotations

from dataclasses import replace

from server.analysis import analyze
from server.analysis.prior import LengthTerm, beyond_trained_length, load_prior
from server.analysis.request_kind import request_kind


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
