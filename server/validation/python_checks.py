"""Python checks: syntax by parsing (in-process), build by byte-compiling with the project's
interpreter (into a temporary directory, never `__pycache__` in the user's tree), lint with
ruff (`ruff_lint.py`), tests with pytest (`pytest_check.py`), or, where the project's Python has no
pytest, with a Django project's `manage.py test` or the standard library's unittest runner
(`unittest_check.py`), in the interpreter `python_env.py` chooses. Before the tests, every Python
file the change touched must compile.
"""

from __future__ import annotations

import ast
import asyncio
import json
import sys
from pathlib import Path

from server.validation.checks_base import (
    LanguageSpec,
    PlannedCheck,
    RunContext,
    finish,
    python_has_module,
    rel_file,
    run_for,
    skipped,
)
from server.validation.detect import Project
from server.validation.model import CheckKind, CheckResult, Diagnostic
from server.validation.pytest_check import parse_junit, pytest_check
from server.validation.python_env import project_python, worktree_first
from server.validation.ruff_lint import plan_ruff
from server.validation.unittest_check import django_check, unittest_check

__all__ = ["LANGUAGE", "parse_junit", "plan_python"]

# Runs under the project's interpreter; file names arrive on stdin so no argv limit applies.
_COMPILE_SCRIPT = """
import json, os, py_compile, sys
out = sys.argv[1]
bad = 0
for i, name in enumerate(sys.stdin.read().splitlines()):
    try:
        py_compile.compile(name, cfile=os.path.join(out, "%d.pyc" % i), doraise=True)
    except py_compile.PyCompileError as exc:
        bad += 1
        v = exc.exc_value
        print(json.dumps({"file": name, "line": getattr(v, "lineno", None),
                          "col": getattr(v, "offset", None),
                          "msg": getattr(v, "msg", None) or str(v), "type": exc.exc_type_name}))
sys.exit(1 if bad else 0)
"""


def _limited(project: Project, ctx: RunContext) -> list[Path]:
    if ctx.changed is None:
        return list(project.sources)
    return [p for p in project.sources if p in ctx.changed and p.is_file()]


def _rel_args(files: list[Path], project: Project) -> list[str]:
    return [p.relative_to(project.root).as_posix() for p in files]


def _syntax_check(project: Project, ctx: RunContext) -> PlannedCheck:
    files = _limited(project, ctx)
    if not files:
        return skipped("python-syntax", "syntax", project, "no (changed) Python files to parse")
    check = PlannedCheck(
        name="python-syntax",
        kind="syntax",
        project=project,
        command=["python-ast-parse", f"{len(files)} files"],
        tool_ids=(sys.executable,),
        cache_args=tuple(_rel_args(files, project)),
    )

    def parse_all() -> list[Diagnostic]:
        found: list[Diagnostic] = []
        for path in files:
            try:
                ast.parse(path.read_bytes(), filename=str(path))
            except SyntaxError as exc:
                found.append(
                    Diagnostic(
                        file=rel_file(str(path), project.root, ctx.workspace),
                        line=exc.lineno,
                        column=exc.offset,
                        severity="error",
                        code=type(exc).__name__,
                        message=exc.msg,
                    )
                )
            except (OSError, ValueError) as exc:  # unreadable file, NUL bytes
                found.append(Diagnostic(file=rel_file(str(path), project.root, ctx.workspace), message=str(exc)))
        return found

    async def run(ctx: RunContext) -> CheckResult:
        diags = await asyncio.to_thread(parse_all)
        result = check.blank("failed" if diags else "passed", diagnostics=diags)
        result.output_tail = f"parsed {len(files)} files, {len(diags)} with syntax errors"
        return result

    check.run = run
    return check


def _compile_errors(stdout: str, project: Project, ctx: RunContext) -> list[Diagnostic]:
    """The errors `_COMPILE_SCRIPT` printed, one JSON object a line."""
    diags: list[Diagnostic] = []
    for line in stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        diags.append(
            Diagnostic(
                file=rel_file(item["file"], project.root, ctx.workspace),
                line=item.get("line"),
                column=item.get("col"),
                code=item.get("type"),
                message=str(item.get("msg")),
            )
        )
    return diags


def _build_check(project: Project, ctx: RunContext) -> PlannedCheck:
    files = list(project.sources)
    if not files:
        return skipped("python-compile", "build", project, "no Python files to compile")
    python = project_python(project, ctx)
    check = PlannedCheck(
        name="python-compile",
        kind="build",
        project=project,
        command=[python, "-c", "<py_compile each file into a temporary directory>"],
        tool_ids=(python,),
    )

    async def run(ctx: RunContext) -> CheckResult:
        out_dir = ctx.scratch / f"pyc-{abs(hash(project.root))}"
        out_dir.mkdir(parents=True, exist_ok=True)
        names = "\n".join(str(p) for p in files).encode()
        proc = await run_for(check, ctx, [python, "-c", _COMPILE_SCRIPT, str(out_dir)], stdin=names)
        diags = _compile_errors(proc.stdout, project, ctx)
        result = finish(check, proc, diags, parsed_stdout=True)
        result.command = list(check.command)
        return result

    check.run = run
    return check


def _is_test_file(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "tests.py"  # Django's


def _has_tests(project: Project) -> bool:
    return any(_is_test_file(p) for p in project.sources)


def _test_check(project: Project, ctx: RunContext) -> PlannedCheck:
    if not _has_tests(project):
        return skipped("pytest", "test", project, "no test files (test_*.py, *_test.py, tests.py) found")
    python = own = project_python(project, ctx)
    origin = python_has_module(python, "pytest")
    env = worktree_first(own, project, ctx, ctx.env)
    # Without pytest in the project's environment, a Django project's tests run with its manage.py and
    # unittest tests with the standard library's runner, there (they need its packages); other tests
    # try the server's pytest.
    if origin is None and (project.root / "manage.py").is_file() and python_has_module(own, "django"):
        return _compiled_first(django_check(project, own, env), project, ctx, own)
    if origin is None and _uses_unittest(project):
        return _compiled_first(unittest_check(project, own, env), project, ctx, own)
    if origin is None and python != sys.executable:
        python, origin = sys.executable, python_has_module(sys.executable, "pytest")
    if origin is None:
        where = (f"not in its virtualenv ({own}) nor in the server's" if own != sys.executable
                 else "the project has no .venv and the server's Python has none")
        return skipped("pytest", "test", project, f"pytest is not installed for the project's Python ({where}); "
                       "install it in the project's .venv, or give the project a .venv with it")
    return _compiled_first(pytest_check(project, ctx, python, (python, str(origin)), env), project, ctx, own)


def _compiled_first(check: PlannedCheck, project: Project, ctx: RunContext, python: str) -> PlannedCheck:
    """`check`, run only once every Python file the change touched compiles (with the project's
    Python, for its grammar): a change that does not compile fails the tests outright, whatever
    they import, and with the compiler's words rather than a test module's import error."""
    changed = sorted(p for p in project.sources if p in (ctx.git_changed or ()) and p.is_file())
    if not changed or check.run is None:
        return check
    tests, names = check.run, "\n".join(str(p) for p in changed).encode()
    check.cache_args = (*check.cache_args, *_rel_args(changed, project))

    async def run(ctx: RunContext) -> CheckResult:
        out_dir = ctx.scratch / f"pyc-changed-{abs(hash(project.root))}"
        out_dir.mkdir(parents=True, exist_ok=True)
        proc = await run_for(check, ctx, [python, "-c", _COMPILE_SCRIPT, str(out_dir)], stdin=names)
        diags = _compile_errors(proc.stdout, project, ctx)
        if proc.exit_code == 0 or not diags:
            return await tests(ctx)
        result = finish(check, proc, diags, status="failed", parsed_stdout=True)
        result.command = list(check.command)
        result.output_tail = (f"not run: {len(diags)} changed file(s) do not compile\n" + result.output_tail).strip()
        return result

    check.run = run
    return check


def _uses_unittest(project: Project) -> bool:
    """Whether the project's tests are written for the standard library's unittest."""
    for path in project.sources:
        if path.name.startswith("test") and path.name.endswith(".py"):
            try:
                if "unittest" in path.read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                continue
    return False


def plan_python(project: Project, ctx: RunContext, kinds: set[CheckKind]) -> list[PlannedCheck]:
    planners = {"syntax": _syntax_check, "build": _build_check, "lint": plan_ruff, "test": _test_check}
    return [planners[k](project, ctx) for k in ("syntax", "build", "lint", "test") if k in kinds]


LANGUAGE = LanguageSpec(
    name="python", markers=("pyproject.toml", "setup.py", "setup.cfg"), suffixes=(".py",), plan=plan_python
)
