"""Answers given as SEARCH/REPLACE edit blocks (aider's format), in real git repositories: read as
the diff they make (`edit_blocks_diff`), and checked like any patch (`check_task_answer`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from server.scheduler.answer_checks import check_task_answer
from server.validation.edit_blocks import EditBlocks, edit_blocks_diff, has_edit_blocks
from tests.validation.helpers import base_env, make_repo

CALC = ("class Calc:\n    def add(self, a, b):\n        return a - b\n\n    def sub(self, a, b):\n"
        "        return a - b\n")
TEST = ("from calc import Calc\n\n\ndef test_add():\n    assert Calc().add(2, 3) == 5\n\n\n"
        "def test_sub():\n    assert Calc().sub(2, 3) == -1\n")
FIX = "<<<<<<< SEARCH\n    def add(self, a, b):\n        return a - b\n=======\n    def add(self, a, b):\n" \
      "        return a + b\n>>>>>>> REPLACE\n"

# The places models put the path, each with the same fix.
FORMS = {
    "path above the fence (aider's diff)": f"Fixed.\n\ncalc.py\n```python\n{FIX}```\n",
    "path inside the fence (diff-fenced)": f"```python\ncalc.py\n{FIX}```\n",
    "no fence": f"calc.py\n{FIX}",
    "heading": f"### calc.py\n```python\n{FIX}```\n",
    "bold path with a colon": f"**calc.py**:\n```\n{FIX}```\n",
}


def _repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST, "pkg/__init__.py": ""})


def _applies(root: Path, diff: str) -> str:
    subprocess.run(["git", "apply", "--check", "-"], cwd=root, input=diff.encode(), check=True)
    return diff


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_each_way_of_naming_the_file_reads_as_the_same_diff(tmp_path: Path, form: str) -> None:
    root = _repo(tmp_path)
    edits = await edit_blocks_diff(root, "HEAD", FORMS[form], base_env())
    assert edits.failed == () and edits.diff is not None
    assert "-        return a - b\n+        return a + b\n" in _applies(root, edits.diff)
    assert edits.diff.count("@@") == 2  # one hunk: sub() keeps its line


async def test_an_answer_of_edit_blocks_passes_its_checks_and_a_wrong_one_fails_them(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    spec = {"workspace": str(root), "checks": ["test"]}
    verdict = await check_task_answer(FORMS["path above the fence (aider's diff)"], spec, base_env())
    assert verdict.passed, verdict.report_json
    assert verdict.patch is not None and "+++ b/calc.py" in _applies(root, verdict.patch)
    wrong = FORMS["no fence"].replace("return a + b", "return a * b")
    verdict = await check_task_answer(wrong, spec, base_env())
    assert not verdict.passed and verdict.status == "failed"


async def test_a_block_written_without_the_class_indentation_keeps_the_files(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    flat = "calc.py\n<<<<<<< SEARCH\ndef add(self, a, b):\n    return a - b\n=======\ndef add(self, a, b):\n" \
           "    return a + b\n>>>>>>> REPLACE\n"
    edits = await edit_blocks_diff(root, "HEAD", flat, base_env())
    assert edits.diff is not None and "+        return a + b\n" in _applies(root, edits.diff)


async def test_blocks_apply_in_order_each_to_the_file_as_the_last_left_it(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    two = ("calc.py\n<<<<<<< SEARCH\n    def sub(self, a, b):\n        return a - b\n=======\n"
           "    def sub(self, a, b):\n        return a - b - 0\n>>>>>>> REPLACE\n"
           f"\nand then\n\n{FIX}"  # no path: the previous block's file
           "calc.py\n<<<<<<< SEARCH\n        return a - b - 0\n=======\n        return a - b\n>>>>>>> REPLACE\n")
    edits = await edit_blocks_diff(root, "HEAD", two, base_env())
    assert edits.failed == () and edits.diff is not None
    assert "+        return a + b" in edits.diff and "a - b - 0" not in edits.diff


async def test_an_empty_search_makes_a_new_file_in_an_existing_folder(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    new = "pkg/util.py\n```python\n<<<<<<< SEARCH\n=======\ndef half(x):\n    return x / 2\n>>>>>>> REPLACE\n```\n"
    edits = await edit_blocks_diff(root, "HEAD", new, base_env())
    assert edits.diff is not None and "+++ b/pkg/util.py" in _applies(root, edits.diff)


@pytest.mark.parametrize(("answer", "reason"), [
    ("calc.py\n<<<<<<< SEARCH\n        return a / b\n=======\n        return a + b\n>>>>>>> REPLACE\n",
     "are not in the file"),
    ("nowhere/calc.py\n<<<<<<< SEARCH\n        return a - b\n=======\n        return a + b\n>>>>>>> REPLACE\n",
     "nowhere/calc.py is not a file of the repository"),
    ("<<<<<<< SEARCH\n    def mul(self, a, b):\n=======\n>>>>>>> REPLACE\n", "are not in the file"),  # calc.py's
    ("new.py\n<<<<<<< SEARCH\n        return a - b\n=======\n        return a + b\n>>>>>>> REPLACE\n",
     "does not exist"),
    ("calc.py\n<<<<<<< SEARCH\n        return a - b\n        return a + b\n>>>>>>> REPLACE\n", "no ======="),
])
async def test_a_block_that_cannot_be_placed_sinks_the_answer_and_says_why(tmp_path: Path, answer: str,
                                                                          reason: str) -> None:
    root = _repo(tmp_path)
    good_first = FORMS["no fence"] + "\n" + answer  # the first block would apply: still nothing goes in
    edits = await edit_blocks_diff(root, "HEAD", good_first, base_env())
    assert edits.diff is None and len(edits.failed) == 1 and reason in edits.failed[0]
    verdict = await check_task_answer(good_first, {"workspace": str(root), "checks": ["test"]}, base_env())
    assert not verdict.passed and verdict.status == "patch_failed" and reason in verdict.feedback


@pytest.mark.parametrize(("answer", "reason"), [
    # a SEARCH that stands twice is refused, not guessed
    ("calc.py\n<<<<<<< SEARCH\n        return a - b\n=======\n        return a + b\n>>>>>>> REPLACE\n",
     "stand in more than one place; include more lines"),
    # blank SEARCH lines in an existing file are looked for, not appended at its end
    ("calc.py\n<<<<<<< SEARCH\n\n=======\n\n    def mul(self, a, b):\n        return a * b\n>>>>>>> REPLACE\n",
     "from `blank lines`"),
], ids=["stands twice", "blank search lines"])
async def test_a_block_that_stands_in_no_one_place_is_refused(tmp_path: Path, answer: str, reason: str) -> None:
    edits = await edit_blocks_diff(_repo(tmp_path), "HEAD", answer, base_env())
    assert edits.diff is None and reason in edits.failed[0]


async def test_text_without_blocks_is_left_to_the_other_readers(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert not has_edit_blocks("```python\nx = 1\n```\n=======\n")
    assert await edit_blocks_diff(root, "HEAD", "no blocks here", base_env()) == EditBlocks(None)


async def test_a_large_file_in_a_large_repository_is_read_whole(tmp_path: Path) -> None:
    # Over 64 KB of file list and of file text: what git prints is read to the end, not its tail kept.
    big = "".join(f"def f{i}(x):\n    return x - {i}\n\n\n" for i in range(4000))
    files = {f"pkg/module_with_a_long_name_{i:04d}.py": "" for i in range(2500)}
    root = make_repo(tmp_path / "repo", {"pkg/big.py": big, **files})
    answer = "pkg/big.py\n<<<<<<< SEARCH\ndef f1(x):\n    return x - 1\n=======\ndef f1(x):\n    return x + 1\n>>>>>>> REPLACE\n"
    edits = await edit_blocks_diff(root, "HEAD", answer, base_env())
    assert edits.failed == () and edits.diff is not None
    _applies(root, edits.diff)
    verdict = await check_task_answer(answer, {"workspace": str(root), "checks": ["lint"]}, base_env())
    assert verdict.patch is not None and "+    return x + 1" in verdict.patch and verdict.status != "patch_failed"


async def test_a_file_with_crlf_line_ends_keeps_them(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"calc.py": CALC.replace("\n", "\r\n")})
    edits = await edit_blocks_diff(root, "HEAD", FORMS["no fence"], base_env())
    assert edits.diff is not None and "-        return a - b\r\n+        return a + b\r\n" in _applies(root, edits.diff)
