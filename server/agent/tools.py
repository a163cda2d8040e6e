"""The tools an agent may call, each confined to its own worktree.

Paths are relative to the worktree root; an absolute path, a `..` escape, a symlink that leads
outside, anything under `.git`, and secret-looking files are refused with a message the model
can act on. Every output handed back to the model is capped. No tool runs a shell: checks go
through the validation engine (allow-listed environment, process-tree kill on time-out).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from server.agent.worktree import AgentWorkspace, git
from server.backends.base import ToolSpec
from server.context.secrets import has_secret, is_secret_path
from server.validation import ValidationOptions, diagnostics_feedback, validate_path
from server.validation.baseline import already_note, judge_against_base
from server.validation.edit_blocks import EditBlockError, replace_block
from server.validation.model import CheckKind, LintScope
from server.validation.procs import DEFAULT_STREAM_CAP
from server.validation.worktree import RepoFiles, diff_files, patch_strip_level, paths_from_root

__all__ = ["TOOL_SPECS", "AgentTools", "Searcher", "ToolOutcome"]

# (worktree root, query, limit) -> lines "path:line: text"
Searcher = Callable[[Path, str, int], Awaitable[list[str]]]

_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "read_file", "description": "Read a file, or lines start_line..end_line (1-based, inclusive).",
     "parameters": {"type": "object", "properties": {
         "path": {"type": "string"}, "start_line": {"type": "integer"}, "end_line": {"type": "integer"}},
         "required": ["path"]}},
    {"name": "list_dir", "description": "List a directory of the repository ('' for the root).",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
    {"name": "search", "description": "Search the repository for code matching a query; returns path:line: text.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
    {"name": "replace_text",
     "description": "Replace the one occurrence of old with new in a file (old='' creates a new file).",
     "parameters": {"type": "object", "properties": {
         "path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
         "required": ["path", "old", "new"]}},
    {"name": "apply_diff", "description": "Apply a unified diff (paths relative to the repository root).",
     "parameters": {"type": "object", "properties": {"diff": {"type": "string"}}, "required": ["diff"]}},
    {"name": "run_checks", "description": "Run the project's checks (tests, lint, build) on your changes.",
     "parameters": {"type": "object", "properties": {}}},
    {"name": "done", "description": "Declare the task finished; your changes are the result.",
     "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}}},
)
TOOL_SPECS: tuple[ToolSpec, ...] = tuple(
    ToolSpec(str(s["name"]), str(s["description"]), s["parameters"]) for s in _SPECS
)


@dataclass(frozen=True)
class ToolOutcome:
    output: str  # what the model is told (capped)
    ok: bool  # False: refused or failed; the model may try again
    done: bool = False
    checks_passed: bool | None = None  # set by run_checks


class ToolRefused(Exception):
    """A tool call the agent may not make; the message goes back to the model."""


async def git_grep(root: Path, query: str, limit: int) -> list[str]:
    """Fallback search: every word of `query` as a fixed-string, case-insensitive `git grep`."""
    words = [w for w in query.replace("(", " ").replace(")", " ").split() if len(w) > 2][:8]
    if not words:
        return []
    args = ["grep", "-n", "-I", "-i", "-F", "--no-color"]
    for word in words:
        args += ["-e", word]
    # A search is read for its first lines only: the first 64 KB of hits, not the whole listing
    # a common word makes of a large repository.
    proc = await git(args, root, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}, stdout_cap=DEFAULT_STREAM_CAP,
                     stdout_head=True)
    return [line[:300] for line in proc.stdout.splitlines()[:limit]]


class AgentTools:
    """Executes tool calls against one `AgentWorkspace`."""

    def __init__(
        self,
        workspace: AgentWorkspace,
        *,
        checks: Sequence[CheckKind] = ("syntax", "test"),
        check_timeout_s: float = 120.0,
        base_env: Mapping[str, str] | None = None,
        searcher: Searcher = git_grep,
        max_output_chars: int = 6000,
        exclude_globs: Sequence[str] = (),
        lint_scope: LintScope = "new",
        test_scope: str = "all",
        required_tests: Sequence[str] = (),
    ) -> None:
        self.workspace = workspace
        self.root = workspace.path
        self.checks = tuple(checks)
        self.check_timeout_s = check_timeout_s
        self.base_env = dict(base_env or workspace.env)
        self.searcher = searcher
        self.max_output_chars = max_output_chars
        self.exclude_globs = tuple(exclude_globs)  # beside the workspace context's secret files
        self.lint_scope: LintScope = lint_scope  # "new": only findings the agent's edits add
        # The task's rule for tests failing before the agent's edits ("new": they fail nothing,
        # `required_tests` excepted); either way the agent is told which they are.
        self.test_scope = test_scope
        self.required_tests = tuple(required_tests)

    # -- confinement -------------------------------------------------------------------------
    def _resolve(self, raw: object, *, must_exist: bool = True) -> Path:
        if not isinstance(raw, str):
            raise ToolRefused("path must be a string relative to the repository root")
        rel = PurePosixPath(raw.strip() or ".")
        if rel.is_absolute():
            raise ToolRefused(f"{raw}: use a path relative to the repository root")
        if ".." in rel.parts:
            raise ToolRefused(f"{raw}: '..' is not allowed; stay inside the repository")
        if ".git" in rel.parts:
            raise ToolRefused(f"{raw}: the .git directory is off limits")
        if is_secret_path(str(rel), self.exclude_globs):
            raise ToolRefused(f"{raw}: secret-looking files are not available")
        target = (self.root / rel).resolve()
        folder = self.workspace.folder
        if folder and not (target.exists() if must_exist else target.parent.exists()):
            inner = (self.root / folder / rel).resolve()  # a path from the workspace's folder, as the task names it
            if inner.exists() if must_exist else inner.parent.exists():
                target = inner
        if target != self.root and self.root not in target.parents:
            raise ToolRefused(f"{raw}: leads outside the repository (symlink?)")
        if must_exist and not target.exists():
            raise ToolRefused(f"{raw}: no such file or directory")
        return target

    def _cap(self, text: str) -> str:
        if len(text) <= self.max_output_chars:
            return text
        return text[: self.max_output_chars] + f"\n... ({len(text) - self.max_output_chars} more characters cut)"

    # -- dispatch ----------------------------------------------------------------------------
    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolOutcome:
        handler = _HANDLERS.get(name)
        if handler is None:
            return ToolOutcome(f"unknown tool {name!r}; use one of {', '.join(_HANDLERS)}", ok=False)
        try:
            outcome = await handler(self, arguments)
        except ToolRefused as exc:
            return ToolOutcome(f"refused: {exc}", ok=False)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return ToolOutcome(f"error: {exc}", ok=False)
        return ToolOutcome(self._cap(outcome.output), outcome.ok, outcome.done, outcome.checks_passed)

    async def read_file(self, args: Mapping[str, Any]) -> ToolOutcome:
        path = self._resolve(args.get("path"))
        if path.is_dir():
            raise ToolRefused(f"{args.get('path')}: is a directory; use list_dir")
        lines = (await asyncio.to_thread(path.read_text, encoding="utf-8")).splitlines()
        start = int(args.get("start_line") or 1)
        end = int(args.get("end_line") or len(lines))
        if start < 1 or start > max(len(lines), 1) or end < start:
            raise ToolRefused(f"lines {start}-{end}: the file has {len(lines)} lines")
        end = min(end, len(lines))
        if has_secret("\n".join(lines[start - 1 : end])):
            raise ToolRefused(f"lines {start}-{end} of {args.get('path')} hold a secret-looking token; "
                              "read around them")
        body = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
        return ToolOutcome(f"{args.get('path')} lines {start}-{end} of {len(lines)}\n{body}", ok=True)

    async def list_dir(self, args: Mapping[str, Any]) -> ToolOutcome:
        path = self._resolve(args.get("path") or ".")
        if not path.is_dir():
            raise ToolRefused(f"{args.get('path')}: not a directory")
        names = sorted(
            (p.name + ("/" if p.is_dir() else "")) for p in path.iterdir() if p.name != ".git"
        )
        return ToolOutcome("\n".join(names) or "(empty)", ok=True)

    async def search(self, args: Mapping[str, Any]) -> ToolOutcome:
        query = str(args.get("query") or "").strip()
        if not query:
            raise ToolRefused("query is empty")
        hits = [h for h in await self.searcher(self.root, query, 40) if not self._secret_hit(h) and not has_secret(h)]
        return ToolOutcome("\n".join(hits) or "no matches", ok=True)

    def _secret_hit(self, hit: str) -> bool:
        path = hit.split(":", 1)[0]
        try:
            self._resolve(path, must_exist=False)
        except ToolRefused:
            return True
        return False

    async def replace_text(self, args: Mapping[str, Any]) -> ToolOutcome:
        old, new = args.get("old"), args.get("new")
        if not isinstance(old, str) or not isinstance(new, str):
            raise ToolRefused("old and new must be strings")
        path = self._resolve(args.get("path"), must_exist=bool(old))
        if not old:
            if path.exists():
                raise ToolRefused(f"{args.get('path')} exists; give the text to replace in old")
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(path.write_text, new, encoding="utf-8")
            return ToolOutcome(f"created {args.get('path')} ({len(new.splitlines())} lines)", ok=True)
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        count = text.count(old)
        if count > 1:
            raise ToolRefused(f"old text occurs {count} times in {args.get('path')}; it must occur exactly once")
        if count == 1:
            await asyncio.to_thread(path.write_text, text.replace(old, new, 1), encoding="utf-8")
            return ToolOutcome(f"replaced 1 occurrence in {args.get('path')}", ok=True)
        try:  # not as written: the same lines with other whitespace, as an edit block is placed
            changed = replace_block(text, old, new)
        except EditBlockError as exc:
            raise ToolRefused(f"{args.get('path')}: {exc}") from None
        await asyncio.to_thread(path.write_text, changed, encoding="utf-8")
        return ToolOutcome(f"replaced 1 occurrence in {args.get('path')} (its lines matched with other whitespace; "
                           "the file's indentation kept)", ok=True)

    async def apply_diff(self, args: Mapping[str, Any]) -> ToolOutcome:
        diff = args.get("diff")
        if not isinstance(diff, str) or not diff.strip():
            raise ToolRefused("diff is empty")
        for name in diff_files(diff):
            self._resolve(name, must_exist=False)
        if not diff.endswith("\n"):
            diff += "\n"
        level = patch_strip_level(diff)
        if self.workspace.folder:
            listed = await git(["ls-files"], self.root, self.workspace.env)
            diff = paths_from_root(diff, RepoFiles.of(set(listed.stdout.splitlines()), self.workspace.folder), level)
        proc = await git(["apply", f"-p{level}", "--whitespace=nowarn", "-"], self.root, self.workspace.env,
                         diff.encode())
        if proc.exit_code != 0:
            return ToolOutcome(f"the diff does not apply: {proc.stderr.strip()[-1500:]}", ok=False)
        return ToolOutcome("diff applied", ok=True)

    async def run_checks(self, args: Mapping[str, Any]) -> ToolOutcome:
        options = ValidationOptions(checks=self.checks, timeout_s=self.check_timeout_s, use_cache=False,
                                    lint_scope=self.lint_scope, source=self.workspace.repo_root / self.workspace.folder)
        report = await validate_path(self.root / self.workspace.folder, options, base_env=self.base_env)
        if report.passed and all(c.status == "skipped" for c in report.checks):  # passed, but nothing ran
            why = "; ".join(f"{c.name}: {c.skipped_reason}" for c in report.checks if c.skipped_reason)
            return ToolOutcome(f"No check could run ({why or 'no project of a known language'}); they cannot "
                               "judge your change. Finish with done.", ok=True, checks_passed=False)
        compared = await judge_against_base(report, self.workspace.repo_root / self.workspace.folder,
                                            self.workspace.base_commit, lint_scope=self.lint_scope,
                                            test_scope=self.test_scope, required=self.required_tests,
                                            timeout_s=self.check_timeout_s, env=self.base_env)
        report = compared.report
        if report.passed:
            text = "All checks passed."
            if compared.forgiven:
                text += (f" These tests failed before your change too, at {self.workspace.base_commit[:12]}, and still "
                         f"fail: {', '.join(compared.forgiven[:10])}. Leave them unless the task is about them.")
        else:
            text = (diagnostics_feedback(report, max_chars=self.max_output_chars)
                    + already_note(self.workspace.base_commit, compared.already))
        return ToolOutcome(text, ok=True, checks_passed=report.passed)

    async def done(self, args: Mapping[str, Any]) -> ToolOutcome:
        return ToolOutcome(str(args.get("summary") or "done"), ok=True, done=True)


_HANDLERS: dict[str, Callable[[AgentTools, Mapping[str, Any]], Awaitable[ToolOutcome]]] = {
    "read_file": AgentTools.read_file,
    "list_dir": AgentTools.list_dir,
    "search": AgentTools.search,
    "replace_text": AgentTools.replace_text,
    "apply_diff": AgentTools.apply_diff,
    "run_checks": AgentTools.run_checks,
    "done": AgentTools.done,
}


def short_arguments(arguments: Mapping[str, Any], limit: int = 120) -> str:
    """Arguments in short, for the status's step list."""
    text = json.dumps(dict(arguments), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
