"""answer_form: which tasks ask for prose (a design, a review, an explanation) and which for a change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.analysis.answer_form import answer_form, asks_for_overview
from server.scheduler.planner import context_mode

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


@pytest.mark.parametrize(("text", "form"), [
    ("Design the architecture for a plugin system so third parties can add backends", "design"),
    ("Design scalable database schema for products, orders, and users", "design"),
    ("Please propose a caching layer for the pricing service", "design"),
    ("How should we structure the plugin system?", "design"),
    ("Draft an ADR for moving the queue to Redis", "design"),
    ("Review this change for security issues", "review"),
    ("Can you audit `auth.py` for injection risks", "review"),
    ("Explain how to add a backend", "explanation"),
    ("What does retry() return?", "explanation"),
    ("Why does the scheduler start two workers?", "explanation"),
    ("Summarize the modules under server/context", "explanation"),
    ("Research best practices for rate limiting in our API", "explanation"),
    ("Find where the retry counter is reset", "explanation"),
    ("Research and implement caching", "change"),
    ("Find and fix the leak", "change"),
    # the change itself, or a change asked for in a clause of its own
    ("Add a backend", "change"),
    ("Fix the off-by-one in the retry counter", "change"),
    ("Design and implement a cache", "change"),
    ("Review the parser and fix what you find", "change"),
    ("Why does it crash? Fix it.", "change"),
    ("Can you fix the off-by-one?", "change"),
    ("Explain the bug, then patch it", "change"),
    # a commit message or a feature title, not a request for prose
    ("Set the library path for the right architecture", "change"),
    ("Do not create a volume by default when launching an instance", "change"),
    ("When passing a timeout via Requests, it was not translated", "change"),
    ("Review and Rating System", "change"),
    ("Audit Logging and Activity Tracking", "change"),
    ("Design System Implementation", "change"),
    ("## What would you like Teleport to do?\nAlways collect metrics", "change"),
])
def test_answer_form(text: str, form: str) -> None:
    assert answer_form(text) == form


@pytest.mark.parametrize("name", ["context_heldout.jsonl", "context_pypi.jsonl", "context_pypi_tune.jsonl"])
def test_real_change_requests_are_read_as_changes(name: str) -> None:
    """Commit messages and changelog entries of real changes (bench/data) all ask for a change."""
    tasks = [json.loads(line)["task"] for line in (DATA / name).read_text().splitlines() if line.strip()]
    assert tasks and [t for t in tasks if answer_form(t) != "change"] == []


@pytest.mark.parametrize(("text", "overview"), [
    ("Explain the architecture of this project", True),
    ("Give me an overview of the codebase", True),
    ("Describe the repository layout", True),
    ("Review the architecture for scalability risks", True),
    ("What is the overall structure of the code?", True),
    ("Explain how retries work", False),  # a part, not the whole: ranked code serves it
    ("Fix the architecture detection in setup.py", False),  # a change
    ("Add an overview page to the dashboard", False),
])
def test_asks_for_overview(text: str, overview: bool) -> None:
    assert asks_for_overview(text) is overview


@pytest.mark.parametrize(("text", "asked", "validated", "mode"), [
    ("Design a plugin system for the backends", None, False, "summary"),
    ("Explain the architecture of this project", None, False, "summary"),
    ("Explain how retries work", None, False, "code"),
    ("Fix the retry counter", None, False, "code"),
    ("Design a plugin system for the backends", None, True, "code"),  # a checked patch needs the code
    ("Design a plugin system for the backends", "code", False, "code"),  # the caller's word wins
    ("Fix the retry counter", "summary", True, "summary"),
])
def test_context_mode(text: str, asked: str | None, validated: bool, mode: str) -> None:
    assert context_mode(text, asked, validated) == mode
