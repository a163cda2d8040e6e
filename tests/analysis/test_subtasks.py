"""Suggested subtasks: independent pieces are split, compound objects are not."""

from __future__ import annotations

import pytest

from server.analysis import split_subtasks
from server.analysis.subtasks import MAX_SUBTASKS


def test_and_between_two_instructions_splits() -> None:
    assert split_subtasks("Add auth middleware and implement caching") == ("Add auth middleware", "implement caching")


def test_then_splits_sequential_pieces() -> None:
    assert split_subtasks("Fix all build errors, then work on milestone 3") == (
        "Fix all build errors",
        "work on milestone 3",
    )


def test_numbered_list_splits_into_its_items() -> None:
    text = "Sprint:\n1. Add a health check endpoint\n2. Write unit tests for the parser\n3. Update the README"
    assert split_subtasks(text) == ("Add a health check endpoint", "Write unit tests for the parser", "Update the README")


def test_semicolons_split() -> None:
    assert len(split_subtasks("Rename the config flag; add a migration note to the changelog")) == 2


@pytest.mark.parametrize(
    "description",
    [
        "Build shopping cart UI components with add/remove functionality",
        "Design scalable database schema for products, orders, and users",
        "Create user authentication and session management",
        "Parse and validate command-line arguments for the import subcommand",
        "Implement secure authentication with OAuth2, JWT, and MFA support",
        "Remove deprecated v1 API endpoints and their tests",
    ],
)
def test_one_piece_of_work_with_a_compound_object_is_not_split(description: str) -> None:
    assert split_subtasks(description) == ()


def test_a_long_document_yields_at_most_max_subtasks() -> None:
    document = "; ".join(f"Add check number {n} to the linter" for n in range(100))
    assert len(split_subtasks(document)) == MAX_SUBTASKS
