"""Selecting what a task's model sees, on a real temporary git repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.context import ContextOptions, close_indexes, render_selection, select_context
from server.errors import InputError, WorkspaceError
from tests.context.helpers import CANARY, commit_all
from tests.validation.helpers import make_repo


def test_the_function_a_task_names_is_selected_first(repo: Path, options: ContextOptions) -> None:
    sel = select_context(repo, "apply_discount gives the discount at exactly 100 too", [], 400, options)
    first = sel.items[0]
    text = (repo / first.path).read_text().split("\n")[first.start_line - 1:first.end_line]
    assert first.path == "shop/pricing.py"
    assert any("def apply_discount" in line for line in text)
    assert sel.total_tokens <= 400
    assert sel.repo_tokens > sel.total_tokens


def test_named_files_and_ranges_come_first_in_the_order_given(repo: Path, options: ContextOptions) -> None:
    sel = select_context(repo, "make the cart view show a currency", ["web/cart.js:5-9", "shop/cart.py"], 4000, options)
    first, second = sel.items[:2]
    # a ranked piece touching a requested range merges into it, keeping the requested rank
    assert (first.path, first.reason) == ("web/cart.js", "requested")
    assert first.start_line <= 5 and first.end_line >= 9
    assert (second.path, second.start_line, second.end_line, second.reason) == ("shop/cart.py", 1, 12, "requested")


@pytest.mark.parametrize("budget", [120, 300, 900, 5000])
def test_the_total_never_exceeds_the_budget(repo: Path, options: ContextOptions, budget: int) -> None:
    sel = select_context(repo, "helper value apply_discount ShoppingCart total price", ["shop/cart.py"], budget, options)
    assert sel.total_tokens <= budget
    assert sum(i.tokens for i in sel.items) + sel.repo_map_tokens == sel.total_tokens


def test_secrets_ignored_vendored_generated_and_binary_files_are_never_selected(repo: Path, options: ContextOptions) -> None:
    sel = select_context(repo, "aws key region apply_discount applyDiscount discount notes", [], 50_000, options)
    paths = {i.path for i in sel.items}
    assert paths.isdisjoint({".env", "vendor/lib/discount.py", "web/app.min.js", "ignored/discount_notes.py",
                             "shop/logo.bin"})
    rendered = render_selection(sel)
    assert CANARY not in rendered
    assert "REGION" in rendered  # the rest of the file with the key is still usable


def test_uncommitted_edits_are_seen_and_head_reads_the_commit(repo: Path, options: ContextOptions) -> None:
    (repo / "shop" / "pricing.py").write_text("def apply_discount(amount):\n    return amount - loyalty_bonus()\n")
    tree = select_context(repo, "loyalty_bonus in apply_discount", [], 2000, options)
    head = select_context(repo, "loyalty_bonus in apply_discount", [], 2000, options, at_head=True)
    assert "loyalty_bonus()" in render_selection(tree)
    assert "loyalty_bonus()" not in render_selection(head)
    assert head.commit is not None and tree.commit is None


def test_a_changed_file_is_the_only_one_read_again(repo: Path, options: ContextOptions) -> None:
    select_context(repo, "discount", [], 2000, options)
    from server.context.service import _open

    index, _ = _open(repo, options)
    before = {p: i for i, p in index.db.execute("SELECT id, path FROM docs")}
    (repo / "shop" / "cart.py").write_text("class ShoppingCart:\n    pass\n")
    select_context(repo, "discount", [], 2000, options)
    after = {p: i for i, p in index.db.execute("SELECT id, path FROM docs")}
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {"shop/cart.py"}


def test_a_commit_already_indexed_is_not_read_again(repo: Path, options: ContextOptions) -> None:
    select_context(repo, "discount", [], 2000, options, at_head=True)
    (repo / "NOTES.md").write_text("discount notes\n")
    commit_all(repo, "notes")
    sel = select_context(repo, "discount notes", [], 2000, options, at_head=True)
    assert sel.commit is not None


@pytest.mark.parametrize(("files", "field", "fix"), [
    (["shop/missing.py"], "files[0]", "does not exist"),
    (["../outside.py"], "files[0]", "outside the repository"),
    (["shop/cart.py", "shop/pricing.py:5-99"], "files[1]", "passes the end"),
    (["shop/cart.py:9-3"], "files[0]", "start <= end"),
    ([".env"], "files[0]", "secret"),
    (["vendor/lib/discount.py"], "files[0]", "vendored or generated"),
    (["ignored/discount_notes.py"], "files[0]", "ignored by .gitignore"),
])
def test_a_bad_files_entry_names_the_field_and_the_fix(repo: Path, options: ContextOptions, files: list[str],
                                                       field: str, fix: str) -> None:
    with pytest.raises(InputError) as err:
        select_context(repo, "discount", files, 2000, options)
    assert err.value.field == field
    assert fix in str(err.value)


def test_a_directory_that_is_not_a_git_repository_is_refused(tmp_path: Path, options: ContextOptions) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorkspaceError, match="workspace: .* is not inside a git repository"):
        select_context(plain, "discount", [], 2000, options)


def test_a_repository_git_refuses_as_another_users_says_so_and_the_fix(
        repo: Path, options: ContextOptions, monkeypatch: pytest.MonkeyPatch) -> None:
    # git's own test switch for "owned by someone else" (shared drives, containers, WSL mounts).
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    with pytest.raises(WorkspaceError) as err:
        select_context(repo, "discount", [], 2000, options)
    message = str(err.value)
    assert message.startswith("workspace: git refuses the repository") and "owned by another user" in message
    assert f"git config --global --add safe.directory {repo}" in message


def test_exclude_patterns_from_settings_keep_matching_files_out(repo: Path, tmp_path: Path) -> None:
    options = ContextOptions(tmp_path / "cache2", exclude=("shop/pricing.py",))
    try:
        sel = select_context(repo, "apply_discount", [], 5000, options)
    finally:
        close_indexes()
    assert "shop/pricing.py" not in {i.path for i in sel.items}


def test_a_file_that_calls_a_function_the_task_names_in_code_gains_rank(repo: Path, options: ContextOptions) -> None:
    from server.context.rank import RankParams, rank
    from server.context.service import _open

    select_context(repo, "warm the index", [], 500, options)
    index, _ = _open(repo, options)
    snapshot = index.snapshot(None)
    task = "replace the uses of `apply_discount()` with a price rule"

    def caller_score(params: RankParams) -> float:
        return max(r.score for r in rank(snapshot, task, params=params) if snapshot.docs[r.chunk.doc].path == "shop/cart.py")

    assert caller_score(RankParams()) > caller_score(RankParams(w_reference_file=0.0))


def test_adjacent_pieces_of_a_file_share_one_header_so_the_budget_is_used(tmp_path: Path, options: ContextOptions) -> None:
    body = "".join(f"def step_{i}(order):\n    \"\"\"Step {i} of the order pipeline.\"\"\"\n    return order + {i}\n\n\n"
                   for i in range(400))
    repo = make_repo(tmp_path / "big", {"pipeline.py": body, "other.py": "def unrelated():\n    return 1\n"})
    sel = select_context(repo, "order pipeline step", [], 1500, options)
    assert sel.total_tokens <= 1500
    assert {i.path for i in sel.items} == {"pipeline.py"}
    assert sel.total_tokens >= 1500 - 100  # at most about one function goes unused


@pytest.mark.parametrize("aux", ["examples/shop/cart.py", "scripts/cart.py", "bench/cart.py", "docs/cart.py"])
def test_code_in_examples_scripts_benchmarks_and_docs_weighs_less_than_the_package(aux: str) -> None:
    from server.context.rank import RankParams, file_prior

    params = RankParams()
    assert file_prior(aux, params) < file_prior("shop/cart.py", params) == 1.0
    assert file_prior(aux, params) > file_prior("tests/test_cart.py", params)


_FEEDBACK_FILES = {
    "store/__init__.py": "",
    "store/sessions.py": (
        "from store.clock import monotonic_clock\n\n\n"
        "def expire_sessions(sessions, ttl_seconds):\n"
        "    \"\"\"Drop the sessions that expire before now.\"\"\"\n"
        "    now = monotonic_clock()\n"
        "    return [s for s in sessions if s.started + ttl_seconds > now]\n"
    ),
    "store/clock.py": (
        "import time\n\n\n"
        "def monotonic_clock():\n    return time.monotonic()\n\n\n"
        "def ttl_deadline(ttl_seconds):\n    return monotonic_clock() + ttl_seconds\n"
    ),
    "store/filler.py": "".join(f"def filler_{i}(value):\n    return value * {i}\n\n\n" for i in range(80)),
    "docs/guide.md": "# Sessions expire too early\n\nSee the zeppelin_gateway notes on sessions.\n",
    "store/gateway.py": "def zeppelin_gateway(route):\n    return route\n",
}


def _ranked_paths(repo: Path, options: ContextOptions, task: str, **overrides: Any) -> dict[str, float]:
    """{path: best chunk score} of `rank` on `repo` for `task`."""
    from dataclasses import replace

    from server.context.rank import RankParams, rank
    from server.context.service import _open

    select_context(repo, "warm the index", [], 500, options)
    index, _ = _open(repo, options)
    snapshot = index.snapshot(None)
    best: dict[str, float] = {}
    for r in rank(snapshot, task, params=replace(RankParams(), **overrides)):
        path = snapshot.docs[r.chunk.doc].path
        best[path] = max(best.get(path, 0.0), r.score)
    return best


def test_code_sharing_rare_words_with_the_best_match_ranks_although_the_task_never_names_it(
        tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "fb", _FEEDBACK_FILES)
    task = "sessions expire too early"
    with_feedback = _ranked_paths(repo, options, task)
    without = _ranked_paths(repo, options, task, w_feedback=0.0)
    # clock.py holds none of the task's words, only the rare ones its best match uses
    assert "store/clock.py" not in without
    assert with_feedback["store/clock.py"] > 0
    assert with_feedback["store/clock.py"] > with_feedback.get("store/filler.py", 0.0)
    assert max(with_feedback, key=with_feedback.__getitem__) == "store/sessions.py"


def test_feedback_words_come_from_source_files_not_from_docs(tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "fb", _FEEDBACK_FILES)
    # the guide matches "sessions expire too early" best, but its words do not expand the task
    with_feedback = _ranked_paths(repo, options, "sessions expire too early")
    assert "store/gateway.py" not in with_feedback


def test_a_module_whose_test_file_matches_the_task_outranks_an_equal_lexical_match(
        tmp_path: Path, options: ContextOptions) -> None:
    repo = make_repo(tmp_path / "tested", {
        "pkg/__init__.py": "",
        "pkg/tags.py": "def platform_order(names):\n    return sorted(names)\n",
        "pkg/naming.py": "def platform_label(platform):\n    return platform.upper()\n",
        "pkg/filler.py": "".join(f"def filler_{i}(value):\n    return value * {i}\n\n\n" for i in range(40)),
        "tests/test_tags.py": (
            "from pkg.tags import platform_order\n\n\n"
            "def test_wheel_platform_ordering_keeps_native_first():\n"
            "    assert platform_order(['manylinux', 'linux']) == ['linux', 'manylinux']\n"
        ),
    })
    task = "wheel platform ordering keeps native first"
    # (`platform_order` is spelled out in the task too: that signal is left out here)
    with_tests = _ranked_paths(repo, options, task, w_spelled=0.0)
    without = _ranked_paths(repo, options, task, w_tested=0.0, w_spelled=0.0)
    assert without["pkg/naming.py"] > without["pkg/tags.py"]
    assert with_tests["pkg/tags.py"] > with_tests["pkg/naming.py"]


def test_a_workspace_in_a_folder_of_a_monorepo_is_ranked_first_and_the_rest_stays_reachable(
    tmp_path: Path, options: ContextOptions,
) -> None:
    body = "def parse_invoice(text):\n    \"\"\"Read an invoice's lines.\"\"\"\n    return text.split()\n"
    repo = make_repo(tmp_path / "mono", {
        "billing/invoices.py": body, "legacy/invoices.py": body, "legacy/money_rounding.py": "def round_cents(x):\n"
        "    return round(x, 2)\n"})
    task = "parse_invoice must skip blank lines"
    at_root = select_context(repo, task, [], 64, options)
    in_billing = select_context(repo / "billing", task, [], 64, options)
    in_legacy = select_context(repo / "legacy", task, [], 64, options)
    rounding = select_context(repo / "billing", "round_cents rounds half cents down", [], 64, options)
    assert at_root.items[0].path == "billing/invoices.py"  # a tie at the root goes to the lower file id
    assert in_billing.items[0].path == "billing/invoices.py"
    assert in_legacy.items[0].path == "legacy/invoices.py"  # the folder named wins the tie
    assert rounding.items[0].path == "legacy/money_rounding.py"  # code only found elsewhere still comes
