"""The pytest check: run the project's tests with a JUnit XML report and read each failing test from
it, a module that could not be collected with the error that stopped it.

pytest's cache goes to the run's scratch folder (`-o cache_dir`), never the project's tree, and
stays on, so a project's `--lf` / `--ff` / `--nf` / `--sw` options still work; a project whose own
options turn the cache off gets no `cache_dir` (pytest would call it unknown, an error under
`--strict-config`). A usage error (exit code 4: an option of the project's configuration that its
environment cannot serve, such as `--cov` without pytest-cov) stops pytest before any test, and says
nothing of the patch: the check is skipped with the reason, unless the change edited pytest's
configuration. A conftest that cannot be loaded is a failure like a module that cannot be collected.
On a time-out the check names the test that was running (a small plugin notes each test as it
starts).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from server.validation.checks_base import PlannedCheck, RunContext, finish, rel_file, run_for, upwards
from server.validation.detect import Project
from server.validation.model import CheckResult, Diagnostic
from server.validation.procs import ProcResult
from server.validation.py_tracebacks import cause_of, from_workspace

__all__ = ["COLLECTION", "parse_junit", "pytest_check"]

COLLECTION = "test-collection"  # a test module or conftest that could not be imported: known by its cause too
_TRACE_LINE = re.compile(r"^(?P<file>[^:\s]+\.py):(?P<line>\d+): \w+")
_CONFTEST = re.compile(r"^ImportError while loading conftest '(?P<file>[^']+)'\.$", re.MULTILINE)
# where pytest reads its options, in the order it looks in each folder
_PYTEST_CONFIGS = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
_PYTEST_SECTIONS = ("[pytest]", "[tool.pytest", "[tool:pytest]")
_RUNNING_PLUGIN = "_pwm_running_test"


def parse_junit(path: Path, project: Project, workspace: Path, top: Path | None = None) -> list[Diagnostic]:
    """A diagnostic per failing test of a JUnit XML report (pytest's `xunit1`); a module that could not
    be collected is named with its error (`COLLECTION`). Paths of the run are written from `workspace`."""
    top = top or workspace
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return []
    diags = []
    for case in tree.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is None:
                continue
            where = case.get("file")
            line = case.get("line")
            test_id = "::".join(x for x in (case.get("classname"), case.get("name")) if x)
            text_lines = (node.text or "").strip().splitlines()
            message = node.get("message") or (text_lines[-1] if text_lines else tag)
            code = f"test-{tag}"
            if tag == "error" and message == "collection failure":
                code = COLLECTION
                message = f"{message}: {cause_of(node.text or '', project.root, workspace, top) or 'unknown error'}"
            line_no = int(line) + 1 if line and line.isdigit() else None  # JUnit lines are 0-based
            # The traceback's last "file:line: Error" in the test's own file is where it failed.
            for text in reversed(text_lines):
                m = _TRACE_LINE.match(text.strip())
                if m and where and Path(m["file"]).as_posix().endswith(Path(where).as_posix()):
                    line_no = int(m["line"])
                    break
            diags.append(
                Diagnostic(
                    file=rel_file(where, project.root, workspace) if where else None,
                    line=line_no,
                    severity="error",
                    code=code,
                    message=from_workspace(f"{test_id}: {message}", workspace, top)[:500],
                )
            )
    return diags


def _cache_off(project: Project, top: Path) -> bool:
    """Whether the project's pytest configuration turns the cache plugin off (`-p no:cacheprovider`)."""
    for directory in upwards(project.root, top):
        for name in _PYTEST_CONFIGS:
            try:
                text = (directory / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if name.startswith(("pytest.", ".pytest.")) or any(s in text for s in _PYTEST_SECTIONS):
                return "no:cacheprovider" in text  # pytest reads the first configuration it finds
    return False


def _config_changed(project: Project, ctx: RunContext) -> bool:
    """Whether the change under check edited pytest's configuration (a config file or a conftest)."""
    names = {*_PYTEST_CONFIGS, "conftest.py"}
    return any(p.name in names and (p.parent in upwards(project.root, ctx.top) or project.root in p.parents)
               for p in ctx.git_changed or ())


def _plugin(scratch: Path, running: Path) -> Path:
    """A folder holding the plugin that notes the test pytest starts in `running`."""
    folder = scratch / "pytest-plugin"
    folder.mkdir(exist_ok=True)
    (folder / f"{_RUNNING_PLUGIN}.py").write_text(
        '"""parallel-work-manager: the test now running, read when the time limit kills pytest."""\n\n\n'
        "def pytest_runtest_logstart(nodeid, location):\n"
        f"    with open({str(running)!r}, 'w', encoding='utf-8') as out:\n"
        "        out.write(nodeid)\n",
        encoding="utf-8",
    )
    return folder


def pytest_check(project: Project, ctx: RunContext, python: str, tool_ids: tuple[str, ...],
                 env: dict[str, str]) -> PlannedCheck:
    """pytest run by `python` in the project with `env` (its PYTHONPATH already set)."""
    base = [python, "-m", "pytest", "-q", "-o", "junit_family=xunit1"]
    cache = [] if _cache_off(project, ctx.top) else ["-o", "cache_dir=<tmp>/pytest-cache"]
    check = PlannedCheck(name="pytest", kind="test", project=project,
                         command=[*base, *cache, "--junitxml", "<tmp>/junit.xml"], tool_ids=tool_ids)

    async def run(ctx: RunContext) -> CheckResult:
        own = ctx.scratch / f"pytest-{os.getpid()}-{abs(hash(project.root))}"
        own.mkdir(parents=True, exist_ok=True)
        running = own / "running"
        plugin = _plugin(own, running)
        argv = [*base, "-p", _RUNNING_PLUGIN, *(["-o", f"cache_dir={own / 'cache'}"] if cache else []),
                "--junitxml", str(own / "junit.xml")]
        path = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(plugin)) if p)
        proc = await run_for(check, ctx, argv, env={**env, "PYTHONPATH": path})
        if proc.timed_out:
            return _timed_out(check, proc, running)
        diags = parse_junit(own / "junit.xml", project, ctx.workspace, ctx.top)
        if proc.exit_code == 5:
            return finish(check, proc, [], status="skipped", skipped_reason="pytest collected no tests")
        if proc.exit_code == 4:
            return _stopped_early(check, proc, project, ctx)
        if proc.exit_code == 3:
            return finish(check, proc, diags, status="error")
        return finish(check, proc, diags)

    check.run = run
    return check


def _timed_out(check: PlannedCheck, proc: ProcResult, running: Path) -> CheckResult:
    result = finish(check, proc, [])
    try:
        test = running.read_text(encoding="utf-8").strip()
    except OSError:
        test = ""
    if test:
        result.output_tail = (result.output_tail + f"\n(the time limit ran out while {test} was running)").strip()
    return result


def _stopped_early(check: PlannedCheck, proc: ProcResult, project: Project, ctx: RunContext) -> CheckResult:
    """pytest's exit code 4: a conftest that could not be loaded (a failure, known by its error), else a
    usage error, the project's configuration or environment (skipped) unless the change edited it."""
    text = proc.stdout + "\n" + proc.stderr
    conftest = _CONFTEST.search(text)
    if conftest is not None:
        name = rel_file(conftest["file"], project.root, ctx.workspace)
        cause = cause_of(text[conftest.end():], project.root, ctx.workspace, ctx.top) or "unknown error"
        diag = Diagnostic(file=name, code=COLLECTION, message=f"{name}: conftest could not be loaded: {cause}"[:500])
        return finish(check, proc, [diag], status="failed")
    if _config_changed(project, ctx):
        return finish(check, proc, [], status="error")
    said = next((line.strip() for line in reversed(text.splitlines()) if "error:" in line.lower()), "")
    said = said or next((line.strip() for line in text.splitlines() if line.strip()), "no message")
    reason = (f"pytest stopped with a usage error before running any test ({from_workspace(said, ctx.workspace, ctx.top)[:300]}): "
              "the project's pytest configuration asks for something its environment lacks (a plugin such as "
              "pytest-cov for --cov); that is the project's to fix, not the patch's")
    return finish(check, proc, [], status="skipped", skipped_reason=reason)
