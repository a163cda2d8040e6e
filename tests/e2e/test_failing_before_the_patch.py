"""Tests that already fail at a validated task's base commit: the checks run once more there, the
feedback and status say which failures the patch did not cause, and `test_scope: "new"` (SWE-bench's
PASS_TO_PASS rule) forgives them while a test the patch breaks still fails it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import (
    DOCSTRING_TASK,
    MUL_DOCSTRING,
    call,
    run_task,
    run_validated,
    served,
    wait_finished,
)
from tests.support.loopback_provider import Reply
from tests.validation.helpers import make_repo

OPS = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"  # add() is broken at HEAD
TESTS = ("from ops import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         "def test_mul():\n    assert mul(2, 3) == 6\n")
BREAKS_MUL = "ops.py\n```python\n<<<<<<< SEARCH\n    return a * b\n=======\n    return a + b\n>>>>>>> REPLACE\n```"


async def test_a_failure_the_patch_did_not_cause_is_named_and_test_scope_new_forgives_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS, "test_ops.py": TESTS})
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(MUL_DOCSTRING))
        strict = await run_validated(client, repo, DOCSTRING_TASK, checks=["test"])
        strict_prompts = [r.prompt for r in lp.requests]
        forgiving = await run_validated(client, repo, DOCSTRING_TASK, checks=["test"], test_scope="new")
        lp.set_default(Reply(BREAKS_MUL))
        breaking = await run_validated(client, repo, DOCSTRING_TASK, checks=["test"], test_scope="new")
        refused = await client.call_tool("submit_parallel_tasks", {"tasks": [{
            "task_description": DOCSTRING_TASK, "workspace": str(repo), "validate": {"test_scope": "old"}}]})
    # by default every failing test fails the patch; the retry and the status say which were failing before
    assert strict["status"] == "failed" and len(strict["attempts"]) == 2
    first = strict["attempts"][0]["validation"]
    assert first["status"] == "failed" and first["failing_before_the_patch"] == ["test_ops::test_add"]
    assert "already failing at" in strict_prompts[1] and "test_ops::test_add" in strict_prompts[1]
    # the task's error names the way out, and what it costs: the failing test may be the task itself
    assert 'validate.test_scope "new" ignores them, and so accepts a patch that leaves them failing' in strict["error"]
    assert "if the task is to make them pass, the patch did not" in strict["error"]
    # test_scope "new": the docstring passes on the first model, the old failure noted, not counted
    assert forgiving["status"] == "succeeded", forgiving
    (attempt,) = forgiving["attempts"]
    assert attempt["validation"]["status"] == "passed"
    assert attempt["validation"]["failing_before_the_patch"] == ["test_ops::test_add"]
    # ... but a test that passed before and fails now still fails the patch
    assert breaking["status"] == "failed" and "test_scope" not in breaking["error"]  # it broke test_mul
    assert all(a["validation"]["status"] == "failed" for a in breaking["attempts"])
    assert refused.is_error and "tasks[0].validate.test_scope" in refused.content[0].text  # type: ignore[union-attr]


TESTS_FIRST = ("```diff\n--- /dev/null\n+++ b/test_sub.py\n@@ -0,0 +1,5 @@\n+import ops\n+\n+\n"
               "+def test_sub():\n+    assert ops.sub(5, 3) == 2\n```")
SUB = ("ops.py\n```python\n<<<<<<< SEARCH\ndef mul(a, b):\n=======\ndef sub(a, b):\n    return a - b\n\n\n"
       "def mul(a, b):\n>>>>>>> REPLACE\n```")


async def test_tests_written_first_are_new_and_an_old_failure_is_still_told_apart(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS, "test_ops.py": TESTS})
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(SUB))
        lp.script("fast-a", [Reply(TESTS_FIRST), Reply(SUB), Reply(TESTS_FIRST), Reply(SUB)])
        runs = []
        for scope in ("new", "all"):
            submitted = await call(client, "submit_parallel_tasks", {"tasks": [{
                "agent_type": "tcoder_speed", "task_description": "Add sub(a, b) to ops.py", "workspace": str(repo),
                "test_first": True, "validate": {"checks": ["test"], "max_rounds": 1, "test_scope": scope}}]})
            runs.append((await wait_finished(client, submitted["group_id"]))["tasks"][0])
    forgiving, strict = runs
    assert forgiving["status"] == "succeeded", forgiving  # test_sub passes; test_add failed before
    assert "+def test_sub" in forgiving["result"] and "+def sub(a, b):" in forgiving["result"]
    assert strict["status"] == "failed"
    told = [a["validation"].get("failing_before_the_patch") for a in strict["attempts"] if a.get("validation")]
    assert ["test_ops::test_add"] in told  # the implementation's check names the old failure


async def test_a_named_check_that_cannot_run_fails_the_task_at_once_and_hands_back_the_unchecked_patch(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS.replace("a - b", "a + b")})  # no test files at all
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(MUL_DOCSTRING))
        tests_only = await run_validated(client, repo, DOCSTRING_TASK, checks=["test"])
        with_lint = await run_validated(client, repo, DOCSTRING_TASK, checks=["lint", "test"])
        calls_before = len(lp.requests)
        by_default = await run_validated(client, repo, DOCSTRING_TASK)  # the default checks: lint and syntax run
    for task in (tests_only, with_lint):
        assert task["status"] == "failed" and len(task["attempts"]) == 1  # no stronger model would be checked either
        assert "could not be checked: no test check could run (pytest: no test files" in task["error"]
        assert task["attempts"][0]["validation"]["status"] == "unchecked"
        assert "+    \"\"\"The product of a and b.\"\"\"" in task["result"]  # the patch, for the caller to judge
    skipped = tests_only["attempts"][0]["validation"]["checks"]
    assert skipped[0]["status"] == "skipped" and "no test files" in skipped[0]["skipped_reason"]
    assert by_default["status"] == "succeeded" and len(lp.requests) == calls_before + 1


def test_a_checklist_item_proved_by_its_files_or_command_needs_no_other_check() -> None:
    from server.scheduler.validated import checks_not_run
    from server.validation.model import CheckResult, ValidationReport

    nothing_ran = ValidationReport(workspace="/w", passed=True, status="passed", checks=[CheckResult(
        name="pytest", kind="test", project=".", language="python", status="skipped", skipped_reason="no test files")])
    assert checks_not_run(nothing_ran, {"checks": ["syntax"]}) == "no check could run (pytest: no test files)"
    assert checks_not_run(nothing_ran, {"checks": ["test"], "checks_named": True}).startswith("no test check could run")
    assert checks_not_run(nothing_ran, {"checks": ["syntax"], "must_change": ["README.md"]}) == ""
    assert checks_not_run(nothing_ran, {"checks": ["syntax"], "command": ["make", "docs"]}) == ""


async def test_a_repository_no_check_knows_hands_back_its_patch_as_unchecked_unless_checks_were_asked_for(
    tmp_path: Path,
) -> None:
    java = "class Ops {\n    static int mul(int a, int b) {\n        return a * b;\n    }\n}\n"
    repo = make_repo(tmp_path / "repo", {"src/Ops.java": java})  # no language the checks know
    answer = ("src/Ops.java\n```java\n<<<<<<< SEARCH\n    static int mul(int a, int b) {\n=======\n"
              "    /** The product of a and b. */\n    static int mul(int a, int b) {\n>>>>>>> REPLACE\n```")
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(answer))
        runs = [await run_task(client, repo, "Give mul() in src/Ops.java a javadoc", **validate)
                for validate in ({}, {"validate": True})]
        applied = await call(client, "apply_validated_patch", {"task_id": runs[0]["task_id"]})
    implicit, asked = runs
    # checked only because it names a workspace: the patch applies, and says it was not checked
    assert implicit["status"] == "succeeded" and implicit["attempts"][0]["validation"]["status"] == "unchecked"
    assert applied["files"] == ["src/Ops.java"] and "/** The product" in (repo / "src/Ops.java").read_text()
    # asked for checks: none can run, so the task fails at once saying why
    assert asked["status"] == "failed" and "no check could run (no project of a known language)" in asked["error"]


async def test_checked_only_because_it_names_a_workspace_a_patch_must_break_nothing_that_passed(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {"ops.py": OPS, "test_ops.py": TESTS})  # test_add fails at HEAD
    async with served(tmp_path) as (lp, client):
        runs = []
        for task, answer in ((DOCSTRING_TASK, MUL_DOCSTRING), (DOCSTRING_TASK, BREAKS_MUL), ("Fix add() so the tests pass", MUL_DOCSTRING)):
            lp.set_default(Reply(answer))
            runs.append(await run_task(client, repo, task))
    kept, broke, unfixed = runs
    assert kept["status"] == "succeeded" and len(kept["attempts"]) == 1
    assert kept["attempts"][0]["validation"]["failing_before_the_patch"] == ["test_ops::test_add"]
    assert broke["status"] == "failed"  # test_mul passed before it
    # a bug fix (or a task about tests passing) is judged by every failing test: the failing test is the task
    assert unfixed["status"] == "failed" and len(unfixed["attempts"]) > 1


async def test_a_node_project_s_old_failing_test_is_told_apart_too(tmp_path: Path) -> None:
    ops = "function add(a, b) {\n  return a - b;\n}\n\nfunction mul(a, b) {\n  return a * b;\n}\n\nmodule.exports = { add, mul };\n"
    tests = ("const test = require('node:test');\nconst assert = require('node:assert');\n"
             "const { add, mul } = require('../src/ops');\n\n"
             "test('add', () => { assert.strictEqual(add(2, 3), 5); });\n"
             "test('mul', () => { assert.strictEqual(mul(2, 3), 6); });\n")
    repo = make_repo(tmp_path / "js", {"package.json": '{"name": "jscalc", "scripts": {"test": "node --test"}}',
                                       "src/ops.js": ops, "test/ops.test.js": tests})
    answer = ("src/ops.js\n```js\n<<<<<<< SEARCH\nfunction mul(a, b) {\n=======\n/** The product of a and b. */\n"
              "function mul(a, b) {\n>>>>>>> REPLACE\n```")
    async with served(tmp_path) as (lp, client):
        lp.set_default(Reply(answer))
        task = await run_task(client, repo, "Give mul() in src/ops.js a doc comment")
    assert task["status"] == "succeeded" and len(task["attempts"]) == 1, task.get("error")
    assert task["attempts"][0]["validation"]["failing_before_the_patch"] == ["add failed"]
