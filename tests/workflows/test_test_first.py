"""Tests written first must fail on the current code; the implementation may not edit them."""

from __future__ import annotations

from pathlib import Path

from server.scheduler.answer_checks import check_task_answer
from server.workflows import check_tests_fail_first, diff_touches
from tests.validation.helpers import base_env, make_repo

PROJECT = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1.0"\n',
    "shop/__init__.py": "",
    "shop/prices.py": "def discount(total, pct):\n    return total\n",
    "tests/test_existing.py": "def test_ok():\n    assert True\n",
}

FAILING_TEST = """--- /dev/null
+++ b/tests/test_discount.py
@@ -0,0 +1,5 @@
+from shop import prices
+
+
+def test_discount_applies_percentage():
+    assert prices.discount(100, 10) == 90
"""

PASSING_TEST = """--- /dev/null
+++ b/tests/test_discount.py
@@ -0,0 +1,5 @@
+from shop import prices
+
+
+def test_discount_of_zero_percent():
+    assert prices.discount(100, 0) == 100
"""


async def test_tests_that_fail_on_the_current_code_are_accepted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    verdict = await check_tests_fail_first(repo, FAILING_TEST, env=base_env())
    assert verdict.ok, verdict.reason
    assert verdict.test_files == ("tests/test_discount.py",)
    assert any("test_discount_applies_percentage" in t for t in verdict.failing_tests)


async def test_tests_that_already_pass_are_rejected_with_the_reason(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    verdict = await check_tests_fail_first(repo, PASSING_TEST, env=base_env())
    assert not verdict.ok
    assert "pass on the current code" in verdict.reason


def test_an_implementation_diff_that_edits_the_tests_is_caught() -> None:
    impl = ("--- a/shop/prices.py\n+++ b/shop/prices.py\n@@ -1,2 +1,2 @@\n def discount(total, pct):\n"
            "-    return total\n+    return total * (100 - pct) / 100\n"
            "--- a/tests/test_discount.py\n+++ b/tests/test_discount.py\n@@ -5 +5 @@\n-    x\n+    y\n")
    assert diff_touches(impl, ("tests/test_discount.py",)) == ("tests/test_discount.py",)
    assert diff_touches(impl.split("--- a/tests")[0], ("tests/test_discount.py",)) == ()


async def test_tests_written_as_a_new_files_search_replace_block_are_taken(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", PROJECT)
    block = ("tests/test_discount.py\n```python\n<<<<<<< SEARCH\n=======\nfrom shop import prices\n\n\n"
             "def test_discount_applies_percentage():\n    assert prices.discount(100, 10) == 90\n>>>>>>> REPLACE\n```\n")
    verdict = await check_task_answer(block, {"workspace": str(repo), "phase": "tests"}, base_env())
    assert verdict.passed and verdict.status == "passed", verdict.report_json
    assert verdict.patch is not None and "+++ b/tests/test_discount.py" in verdict.patch
