"""A design task's workspace context: the repository's structure, signatures, imports and latest
commits instead of ranked code (a real git repository, the real index)."""

from __future__ import annotations

from pathlib import Path

from mcp import Client

from server.app import build_server
from server.context import ContextOptions, close_indexes, render_selection, select_context
from server.context.types import Selection
from server.settings import load_settings
from tests.context.helpers import CANARY, commit_all, make_context_repo, write_files
from tests.e2e.helpers import call, wait_finished
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply
from tests.support.replies import reply_text
from tests.validation.helpers import make_repo

TASK = "Design a plugin architecture so shops can add their own discount rules"


def _summary(repo: Path, tmp_path: Path, budget: int = 6000, files: list[str] | None = None) -> tuple[str, Selection]:
    try:
        sel = select_context(repo, TASK, files or [], budget, ContextOptions(tmp_path / "cache"), mode="summary")
    finally:
        close_indexes()
    return render_selection(sel), sel


def test_a_summary_shows_structure_signatures_imports_and_commits_not_bodies(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    write_files(repo, {"shop/rules.py": "def _private_rule(x):\n    return x\n\n\ndef public_rule(amount):\n    return amount\n"})
    commit_all(repo, "Add discount rules module")
    text, sel = _summary(repo, tmp_path)
    assert sel.mode == "summary" and sel.items == ()  # nothing named: no code pieces
    assert text.startswith("## The workspace (the working tree)")
    assert "### Workspace summary" in text
    assert "About (README): A shopping cart with discounts." in text
    assert "shop/cart.py (12 lines)" in text and "class ShoppingCart:" in text
    assert "    def add_item(self, name, price):" in text  # methods under their class
    assert "def public_rule(amount):" in text and "_private_rule" not in text
    assert "imports: shop/pricing.py" in text and "imported by: shop/cart.py" in text
    assert "Other files, by directory:" in text or "tests/test_cart.py" in text
    assert "Latest commits:" in text and "Add discount rules module" in text
    assert "self.items.append" not in text and "return amount * (1 - DISCOUNT_RATE)" not in text  # no bodies
    assert sel.total_tokens == sel.repo_map_tokens <= sel.budget_tokens


def test_named_files_come_first_as_code_then_the_summary(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    text, sel = _summary(repo, tmp_path, files=["shop/pricing.py"])
    assert [(i.path, i.reason) for i in sel.items] == [("shop/pricing.py", "requested")]
    assert text.index("### shop/pricing.py (lines 1-") < text.index("### Workspace summary")
    assert "DISCOUNT_RATE = 0.1" in text


def test_a_summary_never_shows_a_secret_and_keeps_to_a_small_budget(tmp_path: Path) -> None:
    repo = make_context_repo(tmp_path / "repo")
    write_files(repo, {"shop/keys.py": f'"""Keys: {CANARY} for the shop."""\n\n\ndef region():\n    return 1\n'})
    commit_all(repo, f"rotate {CANARY}")
    text, sel = _summary(repo, tmp_path)
    assert CANARY not in text
    assert "def region():" in text  # the module is listed, only its secret docstring line is left out
    small_text, small = _summary(repo, tmp_path, budget=120)
    assert small.total_tokens <= 120 and "### Workspace summary" in small_text


async def test_a_design_task_with_a_workspace_is_answered_in_prose_from_the_summary(tmp_path: Path) -> None:
    """Over MCP against the loopback provider: one call, not checked as a patch (before, every
    model's design failed as 'no patch' and the task climbed to the quality model and failed)."""
    repo = make_context_repo(tmp_path / "repo")
    design = "Discount rules become plugins registered by name; ShoppingCart asks the registry."
    try:
        with LoopbackProvider() as lp:
            lp.set_default(Reply(design))
            settings = load_settings(loop_env(tmp_path, lp.openai_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
            async with Client(build_server(settings)) as client:
                routed = await call(client, "route_task", {
                    "task_description": TASK, "agent_type": "tcoder_speed", "workspace": str(repo)})
                as_code = await call(client, "route_task", {
                    "task_description": TASK, "agent_type": "tcoder_speed", "workspace": str(repo),
                    "context_mode": "code", "context_budget_tokens": 1500})
                no_workspace = await client.call_tool("route_task", {"task_description": TASK, "context_mode": "code"})
                submitted = await call(client, "submit_parallel_tasks", {"tasks": [
                    {"id": "design", "agent_type": "tcoder_speed", "workspace": str(repo), "task_description": TASK},
                    {"id": "explain", "agent_type": "tcoder_speed", "workspace": str(repo),
                     "task_description": "Explain how total_price applies the discount"},
                ]})
                status = await wait_finished(client, submitted["group_id"])
            prompts = ["\n".join(str(m.get("content", "")) for m in r.json["messages"])
                       for r in lp.requests if r.json and "messages" in r.json]
    finally:
        close_indexes()
    assert routed["context"]["mode"] == "summary" and routed["context"]["files"] == []
    assert 0 < routed["context"]["total_tokens"] <= routed["context"]["budget_tokens"] == 6000
    assert "try-check-escalate" not in routed["rationale"]
    assert as_code["context"]["mode"] == "code" and as_code["context"]["files"]
    assert no_workspace.is_error and "context_mode" in reply_text(no_workspace)
    by_id = {t["id"]: t for t in status["tasks"]}
    for key in ("design", "explain"):
        assert by_id[key]["status"] == "succeeded", by_id[key].get("error")
        assert len(by_id[key]["attempts"]) == 1 and by_id[key]["attempts"][0]["validation"] is None
    assert by_id["design"]["result"] == design and by_id["design"]["context"]["mode"] == "summary"
    assert by_id["explain"]["context"]["mode"] == "code"
    (design_prompt,) = [p for p in prompts if TASK in p]
    assert "### Workspace summary" in design_prompt and "def add_item(self, name, price):" in design_prompt
    assert "self.items.append" not in design_prompt and "unified diff" not in design_prompt
    (explain_prompt,) = [p for p in prompts if "total_price applies" in p]
    assert "return apply_discount(sum(p for _, p in self.items))" in explain_prompt


def test_the_readme_says_what_the_project_is_past_headings_notices_and_links(tmp_path: Path) -> None:
    readme = ("Project\n=======\n\n.. image:: https://example.org/badge.svg\n\nCopyright 2020 Someone.\n\n"
              "https://example.org/\n\nA **tool** that turns `tasks` into [plans](https://example.org/p).\n\nMore.\n")
    repo = make_repo(tmp_path / "repo", {"README.rst": readme, "pkg/__init__.py": "", "pkg/core.py": "def run():\n    pass\n"})
    text, _ = _summary(repo, tmp_path)
    assert "About (README): A tool that turns tasks into plans.\n" in text
