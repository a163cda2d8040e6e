"""The learned complexity prior: shipped weights, features shared with training, hints still win."""

from __future__ import annotations

import json
from pathlib import Path

from server.analysis import TaskHints, analyze
from server.analysis.analyzer import TRIVIAL_CAP, _read
from server.analysis.prior import (
    FEATURE_BUCKETS,
    beyond_trained_length,
    features,
    length_units,
    load_prior,
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
    assert word_count(title) <= prior.length_from_words
    assert beyond_trained_length(1.7, title, prior.length_from_words, 2.0) == 1.7
    assert length_units(title, prior.length_from_words) == 0.0


def test_a_description_four_times_the_longest_title_keeps_the_spread_the_model_was_calibrated_on() -> None:
    text = " ".join(["word"] * 44)
    assert length_units(text, 11) == 2.0
    assert beyond_trained_length(3.0, text, 11, 0.0) == 1.5
    assert beyond_trained_length(-3.0, text, 11, 0.5) == -0.5


def test_damping_one_thins_the_title_model_in_proportion_to_the_words_it_never_saw() -> None:
    text = " ".join(["word"] * 44)  # four times 11 words: two doublings
    assert beyond_trained_length(3.0, text, 11, 0.0, damping=1.0) == 0.75
    assert beyond_trained_length(3.0, text, 11, 1.0, damping=1.0) == 2.75


def test_the_shipped_length_handling_starts_beyond_the_training_titles() -> None:
    titles = [json.loads(line)["title"] for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    prior = load_prior()
    longer = sum(word_count(title) > prior.length_from_words for title in titles)
    assert 0 < longer <= 0.01 * len(titles) + 1
    assert prior.length_per_doubling > 0 and prior.length_damping > 0


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
