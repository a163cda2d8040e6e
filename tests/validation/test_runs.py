"""Background validations: joined by an identical request, and stopped with their processes at shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.validation import ValidationOptions, ValidationRuns
from tests.validation.helpers import base_env, make_repo, wait_gone


# A test that records its pid and then waits for a file that never appears.
def _stuck_project(pid_file: Path) -> dict[str, str]:
    return {
        "pyproject.toml": '[project]\nname = "stuck"\nversion = "0"\n',
        "tests/test_stuck.py": (
            "import os, pathlib, time\n\n\ndef test_stuck():\n"
            f"    pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n"
            "    while True:\n        time.sleep(0.05)\n"
        ),
    }


async def test_the_same_request_joins_the_running_validation_and_shutdown_kills_its_processes(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "pytest.pid"
    repo = make_repo(tmp_path / "repo", _stuck_project(pid_file))
    runs = ValidationRuns()
    options = ValidationOptions(checks=("test",), timeout_s=600)
    run = runs.start(repo.resolve(), options, base_env=base_env())
    assert runs.start(repo.resolve(), options, base_env=base_env()) is run
    other = runs.start(repo.resolve(), ValidationOptions(checks=("syntax",)), base_env=base_env())
    assert other is not run and runs.get(run.id) is run

    async with asyncio.timeout(30):  # until the stuck test has started
        while not (pid_file.exists() and pid_file.read_text()):
            assert not run.finished, run.failure
            await asyncio.sleep(0.05)
    await other.wait(30)
    assert other.finished and other.report is not None and other.report.passed
    assert run.pending() == ["pytest (.)"] and not run.finished

    await runs.aclose()
    assert run.finished and run.report is None and "cancelled" in (run.failure or "")
    assert await wait_gone(int(pid_file.read_text()), within_s=15)
