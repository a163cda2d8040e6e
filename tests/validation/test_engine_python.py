"""validate_path on a real Python project in a temporary git repository."""

from __future__ import annotations

from pathlib import Path

from server.validation import ResultCache, ValidationOptions, validate_path
from server.validation.model import CheckResult, ValidationReport
from tests.validation.helpers import PY_PROJECT, base_env, make_repo, wait_gone


def _by_name(report: ValidationReport) -> dict[str, CheckResult]:
    return {c.name: c for c in report.checks}


async def test_python_project_reports_syntax_lint_and_test_failures_with_locations(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", PY_PROJECT)
    report = await validate_path(tmp_path / "repo", ValidationOptions(timeout_s=60), base_env=base_env())

    assert not report.passed and report.status == "failed"
    assert [(p.language, p.path) for p in report.projects] == [("python", ".")]
    checks = _by_name(report)
    assert set(checks) == {"python-syntax", "python-compile", "ruff", "pytest"}

    syntax = checks["python-syntax"]
    assert syntax.status == "failed"
    assert [(d.file, d.line) for d in syntax.diagnostics] == [("demo/broken.py", 1)]
    assert syntax.diagnostics[0].column is not None

    assert checks["python-compile"].status == "failed"
    assert checks["python-compile"].diagnostics[0].file == "demo/broken.py"

    ruff = checks["ruff"]
    assert ruff.status == "failed" and ruff.command[1:4] == ["check", "--output-format", "json"]
    f401 = [d for d in ruff.diagnostics if d.code == "F401"]
    assert f401 and f401[0].file == "demo/calc.py" and f401[0].line == 1 and f401[0].column == 8

    pytest_check = checks["pytest"]
    assert pytest_check.status == "failed" and pytest_check.exit_code == 1
    failing = [d for d in pytest_check.diagnostics]
    assert len(failing) == 1
    assert failing[0].file == "tests/test_calc.py" and "test_add_wrong" in failing[0].message
    assert failing[0].line == 9

    assert report.git is not None and report.git.branch == "main" and report.git.changed == ()
    # Nothing was written into the user's tree: no __pycache__, no tool caches.
    written = {p.name for p in (tmp_path / "repo").rglob("*")}
    assert not written & {"__pycache__", ".pytest_cache", ".ruff_cache"}


async def test_clean_project_passes_and_a_repeat_run_is_served_from_cache(tmp_path: Path) -> None:
    files = {k: v for k, v in PY_PROJECT.items() if k != "demo/broken.py"}
    files["demo/calc.py"] = "def add(a, b):\n    return a + b\n"
    files["tests/test_calc.py"] = "from demo.calc import add\n\n\ndef test_add_ok():\n    assert add(1, 2) == 3\n"
    make_repo(tmp_path / "repo", files)
    cache = ResultCache()
    options = ValidationOptions(timeout_s=60)

    first = await validate_path(tmp_path / "repo", options, base_env=base_env(), cache=cache)
    assert first.passed, [(c.name, c.status, c.output_tail) for c in first.checks]
    assert not any(c.cached for c in first.checks)

    second = await validate_path(tmp_path / "repo", options, base_env=base_env(), cache=cache)
    assert second.passed and all(c.cached for c in second.checks)

    (tmp_path / "repo" / "demo" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    third = await validate_path(tmp_path / "repo", options, base_env=base_env(), cache=cache)
    assert not third.passed and _by_name(third)["pytest"].status == "failed"
    assert not _by_name(third)["pytest"].cached


async def test_secret_in_the_server_env_is_hidden_from_the_projects_tests(tmp_path: Path) -> None:
    make_repo(
        tmp_path / "repo",
        {
            "test_env.py": (
                "import os\n\n\ndef test_no_secret():\n"
                "    assert 'OPENAI_API_KEY' not in os.environ\n"
                "    assert 'sk-secret' not in repr(dict(os.environ))\n"
            )
        },
    )
    report = await validate_path(
        tmp_path / "repo",
        ValidationOptions(checks=("test",), timeout_s=60),
        base_env=base_env(OPENAI_API_KEY="sk-secret"),
    )
    assert _by_name(report)["pytest"].status == "passed", report.checks[0].output_tail


async def test_requested_kinds_limit_the_checks(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", PY_PROJECT)
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("syntax",), timeout_s=60), base_env=base_env()
    )
    assert [c.name for c in report.checks] == ["python-syntax"]


async def test_diagnostics_are_capped_and_counted(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {"many.py": "".join(f"import mod{i}\n" for i in range(30))})
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("lint",), timeout_s=60, max_diagnostics=5),
        base_env=base_env(),
    )
    ruff = _by_name(report)["ruff"]
    assert len(ruff.diagnostics) == 5 and ruff.diagnostics_dropped >= 25


async def test_a_hanging_test_is_timed_out_not_failed_and_what_it_started_in_a_new_session_is_gone(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    make_repo(
        tmp_path / "repo",
        {
            "test_hang.py": (
                "import subprocess, sys, time\n\n\ndef test_hangs():\n"
                "    g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
                "                         start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                f"    open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
                "    print('about to hang', flush=True)\n"
                "    time.sleep(120)\n"
            )
        },
    )
    report = await validate_path(
        tmp_path / "repo", ValidationOptions(checks=("test",), timeout_s=4), base_env=base_env()
    )
    check = _by_name(report)["pytest"]
    assert check.status == "timed_out" and report.status == "timed_out" and not report.passed
    assert check.exit_code is None
    assert check.output_tail.endswith("(the time limit ran out while test_hang.py::test_hangs was running)")
    assert await wait_gone(int(pid_file.read_text()), within_s=5)


async def test_missing_tool_is_skipped_with_the_reason(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", {"index.js": "let x = ;\n", "package.json": "{}"})
    env = base_env()
    env["PATH"] = str(tmp_path / "empty-bin")
    report = await validate_path(tmp_path / "repo", ValidationOptions(timeout_s=30), base_env=env)
    check = _by_name(report)["node-check"]
    assert check.status == "skipped" and check.skipped_reason == "node is not installed"
    assert report.passed
    # where it was looked for, and why a desktop client's server may not find what a shell does
    assert any(f"server's PATH ({tmp_path / 'empty-bin'})" in note and '"PATH"' in note for note in report.notes)


async def test_non_repository_has_no_git_facts_and_changed_only_is_noted(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.py").write_text("x = 1\n")
    report = await validate_path(
        tmp_path / "plain", ValidationOptions(checks=("syntax",), changed_only=True), base_env=base_env()
    )
    assert report.git is None and report.passed
    assert any("changed_only ignored" in n for n in report.notes)
