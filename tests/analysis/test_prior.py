"""The learned complexity prior: shipped weights, features shared with training, hints still win."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from server.analysis import TaskHints, analyze
from server.analysis.analyzer import TRIVIAL_CAP, _read, tier_of
from server.analysis.prior import (
    FEATURE_BUCKETS,
    GRADE_MAX_POINTS,
    LengthTerm,
    beyond_trained_length,
    features,
    length_units,
    load_prior,
    obligation_sentences,
    reading_grade,
    signal_names,
    word_count,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "bench" / "data" / "taskmaster_complexity.jsonl"
EXCLUDED_OWNERS = {"BiscuitNick", "Chious", "AlexKucera", "AieatAssam"}


def test_the_shipped_weights_load_and_say_what_they_were_trained_on() -> None:
    prior = load_prior()
    assert prior.weights and all(0 <= key < FEATURE_BUCKETS for key in prior.weights)
    assert "Task Master" in prior.source
    assert prior.scale > 0


def test_the_analyzer_feeds_the_prior_exactly_what_training_computes_from_the_text() -> None:
    texts = [json.loads(line)["title"] for line in DATA.read_text(encoding="utf-8").splitlines()][:120]
    texts += ["Fix typo in README", "JWT auth + password hashing, with tests for the login flow and the API"]
    for text in texts:
        reading = _read(text, TaskHints())
        assert sorted(reading.prior_signals) == sorted(signal_names(text))
        assert features(text, None, reading.score) == features(
            text, None, reading.score, reading.prior_signals, reading.items
        )


def test_the_training_data_never_comes_from_the_held_out_owners() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 1500 and len({row["repo"] for row in rows}) >= 150
    assert not {row["repo"].split("/")[0] for row in rows} & EXCLUDED_OWNERS
    assert all(row["commit"] and row["path"].endswith("task-complexity-report.json") for row in rows)


def test_bigger_work_scores_above_smaller_work_of_the_same_kind() -> None:
    small = analyze("Add a loading spinner to the save button")
    big = analyze("Implement real-time collaborative editing with conflict resolution and offline sync")
    assert big.complexity > small.complexity


def test_a_trivial_change_is_capped_and_says_the_prior_was_read() -> None:
    analysis = analyze("Fix typo in the README")
    assert analysis.complexity <= TRIVIAL_CAP
    assert any(signal.startswith("prior:") for signal in analysis.signals)


def test_explicit_hints_still_win_over_the_prior() -> None:
    assert analyze("Implement a distributed consensus protocol", TaskHints(complexity=2)).complexity == 2
    assert analyze("Implement a distributed consensus protocol", TaskHints(estimated_effort="simple")).complexity <= 3


def test_descriptions_as_short_as_the_training_titles_are_scored_by_the_model_alone() -> None:
    prior = load_prior()
    title = "Design scalable database schema for products, orders, and users"
    assert len(title) <= prior.length.from_count
    assert beyond_trained_length(1.7, title, prior.length) == 1.7
    assert length_units(title, prior.length) == 0.0


def test_a_description_four_times_the_longest_title_keeps_the_spread_the_model_was_calibrated_on() -> None:
    text = " ".join(["word"] * 44)
    term = LengthTerm("words", 11, 0.0, 0.5)
    assert length_units(text, term) == 2.0
    assert beyond_trained_length(3.0, text, term) == 1.5
    assert beyond_trained_length(-3.0, text, replace(term, per_doubling=0.5)) == -0.5


def test_damping_one_thins_the_title_model_in_proportion_to_the_words_it_never_saw() -> None:
    text = " ".join(["word"] * 44)  # four times 11 words: two doublings
    term = LengthTerm("words", 11, 0.0, 1.0)
    assert beyond_trained_length(3.0, text, term) == 0.75
    assert beyond_trained_length(3.0, text, replace(term, per_doubling=1.0)) == 2.75


def test_length_in_characters_counts_doublings_of_the_text_beyond_the_threshold() -> None:
    term = LengthTerm("chars", 50, 1.0, 1.0)
    assert length_units("x" * 50, term) == 0.0
    assert length_units("x" * 200, term) == 2.0


def test_the_reading_grade_is_coleman_liau_and_rises_with_longer_words_and_sentences() -> None:
    plain = "The cat sat on the mat. The dog ran to the cat. It was a hot day."
    dense = "Asynchronous serialization guarantees idempotent reconciliation of distributed transactional state"
    words = 17
    letters = sum(ch.isalpha() for ch in plain)
    assert reading_grade(plain) == 5.88 * letters / words - 29.6 * 3 / words - 15.8
    assert reading_grade(dense) > reading_grade(plain) + 10
    assert reading_grade("") == 0.0


def test_hard_wording_adds_a_bounded_amount_phased_in_over_the_first_doubling() -> None:
    dense = " ".join(["Asynchronous serialization guarantees idempotent reconciliation"] * 4)  # 2+ doublings
    term = LengthTerm("words", 5, 0.0, 1.0, grade_weight=10.0)
    assert beyond_trained_length(0.0, dense, term) == GRADE_MAX_POINTS  # capped
    just_over = LengthTerm("words", 19, 0.0, 1.0, grade_weight=10.0)  # 20 words: 0.074 doublings
    assert 0 < beyond_trained_length(0.0, dense, just_over) < 0.2
    assert beyond_trained_length(0.0, dense, replace(term, grade_weight=0.0)) == 0.0


def test_the_shipped_length_handling_starts_beyond_the_training_titles() -> None:
    titles = [json.loads(line)["title"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    term = load_prior().length
    size = word_count if term.unit == "words" else len
    longer = sum(size(title) > term.from_count for title in titles)
    assert 0 < longer <= 0.01 * len(titles) + 1
    assert term.per_doubling > 0 and term.damping > 0


def test_the_score_keeps_one_decimal_and_the_tier_is_it_rounded_half_up() -> None:
    for text in ("Fix typo in the README", "Add a loading spinner to the save button",
                 "Implement real-time collaborative editing with conflict resolution and offline sync"):
        analysis = analyze(text)
        assert 1.0 <= analysis.score <= 10.0 and round(analysis.score, 1) == analysis.score
        assert analysis.complexity == tier_of(analysis.score)
    assert tier_of(6.4) == 6 and tier_of(6.5) == 7 and tier_of(7.5) == 8
    assert analyze("Implement a distributed consensus protocol", TaskHints(complexity=2)).score == 2.0


def test_a_longer_description_of_the_same_work_scores_higher_and_never_past_ten() -> None:
    base = "Add retry with exponential backoff to the HTTP client used by the payment webhook handler"
    longer = base + ". " + " ".join(
        ["The client must respect the Retry-After header, cap the total wait, and log each attempt."] * 4
    )
    very_long = longer + " " + " ".join(["Keep the existing timeouts and metrics unchanged."] * 60)
    short, mid, huge = (analyze(text).complexity for text in (base, longer, very_long))
    assert mid > short
    assert huge >= mid
    assert huge <= 10


def test_a_description_spelled_out_as_obligations_scores_lower_unless_it_is_an_exam_question() -> None:
    vague = "The export page is broken for some users after the last release and nobody knows why yet, please look."
    spelled = ("The export page must list every report. It should show the owner of each. The button needs to "
               "disable while a file is written.\nA failed write must show an error.")
    assert obligation_sentences(vague) == 0 and obligation_sentences(spelled) == 4
    term = LengthTerm("chars", 74, 0.0, 1.0, obligation_points=0.5)
    assert beyond_trained_length(0.0, vague, term) == 0.0
    assert beyond_trained_length(0.0, spelled, term) == -0.5 * 2.321928094887362  # 0.5 x log2(1 + 4), past one doubling
    exam = "Which of the following must be true of a compact space that should be complete?\nA. It is finite\nB. None"
    assert obligation_sentences(exam) == 1 and beyond_trained_length(0.0, exam, term) == 0.0
