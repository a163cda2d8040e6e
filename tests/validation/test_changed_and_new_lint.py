"""changed_only and lint_scope='new' on a repository with an old finding committed and a new one added."""

from __future__ import annotations

from pathlib import Path

from server.validation import ValidationOptions, validate_path
from tests.validation.helpers import base_env, make_repo, write_files

LEGACY = {
    "pyproject.toml": '[project]\nname = "legacy"\nversion = "0"\n\n[tool.ruff.lint]\nselect = ["F"]\n',
    "legacy/old.py": "import os\n\n\ndef old():\n    return 1\n",
    "legacy/service.py": "import sys\n\n\ndef handler():\n    return 2\n",
    "legacy/untouched.py": "import json\n",
}


def _repo_with_a_new_finding(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", LEGACY)
    write_files(
        root,
        {
            # The old F401 (sys) stays; a new F401 (re) and an undefined name arrive.
            "legacy/service.py": "import re\nimport sys\n\n\ndef handler():\n    return missing_name\n",
            "legacy/added.py": "import collections\n",
        },
    )
    return root


async def test_changed_only_lints_just_the_changed_and_untracked_files(tmp_path: Path) -> None:
    root = _repo_with_a_new_finding(tmp_path)
    report = await validate_path(
        root, ValidationOptions(checks=("syntax", "lint"), changed_only=True, timeout_s=60), base_env=base_env()
    )
    checks = {c.name: c for c in report.checks}
    assert checks["python-syntax"].command[-1] == "2 files"
    linted = {d.file for d in checks["ruff"].diagnostics}
    assert linted == {"legacy/service.py", "legacy/added.py"}
    assert report.git is not None
    assert report.git.changed == ("legacy/service.py",) and report.git.untracked == ("legacy/added.py",)


async def test_new_lint_scope_reports_only_the_findings_the_change_introduced(tmp_path: Path) -> None:
    root = _repo_with_a_new_finding(tmp_path)
    report = await validate_path(
        root, ValidationOptions(checks=("lint",), lint_scope="new", timeout_s=60), base_env=base_env()
    )
    (ruff,) = report.checks
    assert ruff.name == "ruff-new" and ruff.status == "failed"
    found = sorted((d.file, d.code, d.message) for d in ruff.diagnostics)
    assert found == [
        ("legacy/added.py", "F401", "`collections` imported but unused"),
        ("legacy/service.py", "F401", "`re` imported but unused"),
        ("legacy/service.py", "F821", "Undefined name `missing_name`"),
    ]
    assert "already at HEAD" in ruff.output_tail


async def test_new_lint_scope_passes_when_only_old_findings_remain(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", LEGACY)
    # Touch the file without adding a finding: the old `import sys` must not count.
    write_files(root, {"legacy/service.py": "import sys\n\n\ndef handler():\n    return 3\n"})
    report = await validate_path(root, ValidationOptions(checks=("lint",), lint_scope="new"), base_env=base_env())
    (ruff,) = report.checks
    assert ruff.status == "passed" and ruff.diagnostics == [] and report.passed


async def test_new_lint_scope_in_a_subdirectory_workspace_reports_workspace_paths(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {f"svc/{k}": v for k, v in LEGACY.items()})
    write_files(root, {"svc/legacy/old.py": "import os\nimport re\n\n\ndef old():\n    return 1\n"})
    report = await validate_path(
        root / "svc", ValidationOptions(checks=("lint",), lint_scope="new"), base_env=base_env()
    )
    (ruff,) = report.checks
    assert [(d.file, d.code) for d in ruff.diagnostics] == [("legacy/old.py", "F401")]
    assert "`re`" in ruff.diagnostics[0].message
