"""A validated task's lint check judges what its patch adds: findings the repository already had,
in files the patch never touched, fail no answer (SWE-agent's rule), unless the task asks for
`lint_scope: "all"`; a finding the patch itself adds still fails it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import DOCSTRING_TASK, MUL_DOCSTRING, run_validated, served
from tests.support.loopback_provider import Reply
from tests.validation.helpers import make_repo

OPS = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
UNTIDY = "import os\nimport sys\n\n\ndef helper():\n    x = 1\n    return 2\n"  # F401 x2, F841
ADDS_UNUSED_IMPORT = ("ops.py\n```python\n<<<<<<< SEARCH\ndef add(a, b):\n=======\nimport json\n\n\ndef add(a, b):\n"
                      ">>>>>>> REPLACE\n```")


async def test_existing_findings_elsewhere_fail_no_patch_but_a_finding_the_patch_adds_does(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS, "util.py": UNTIDY})
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(MUL_DOCSTRING))
        clean = await run_validated(client, repo, DOCSTRING_TASK, checks=["lint"])
        strict = await run_validated(client, repo, DOCSTRING_TASK, checks=["lint"], lint_scope="all")
        lp.set_default(Reply(ADDS_UNUSED_IMPORT))
        untidy = await run_validated(client, repo, DOCSTRING_TASK, checks=["lint"])
        refused = await client.call_tool("submit_parallel_tasks", {"tasks": [{
            "task_description": DOCSTRING_TASK, "workspace": str(repo), "validate": {"checks": ["lint"], "lint_scope": "some"}}]})
    prompts = [r.prompt for r in lp.requests]
    assert clean["status"] == "succeeded", clean
    assert [(a["model"], a["validation"]["status"]) for a in clean["attempts"]] == [("loopa/fast", "passed")]
    assert '"""The product of a and b."""' in clean["result"]
    # asked for every finding, the same answer fails on util.py's, on every model it reaches
    assert strict["status"] == "failed" and len(strict["attempts"]) == 2
    assert all(a["validation"]["status"] == "failed" for a in strict["attempts"])
    assert any("util.py:1:8: F401" in p for p in prompts)
    # the patch's own unused import fails it, and the feedback names that finding, not util.py's
    assert untidy["status"] == "failed" and untidy["attempts"][0]["validation"]["status"] == "failed"
    feedback = prompts[-1]
    assert "ops.py:1:8: F401" in feedback and "util.py" not in feedback.split("The checks failed on that patch.")[-1]
    assert refused.is_error and "tasks[0].validate.lint_scope" in refused.content[0].text  # type: ignore[union-attr]
