"""Render a failed validation report as short feedback for a retry prompt: what failed, where,
and the tool's own words, bounded so it fits a prompt."""

from __future__ import annotations

from server.validation.model import CheckResult, Diagnostic, ValidationReport

__all__ = ["diagnostics_feedback"]

_PER_CHECK = 15
_TAIL_LINES = 20


def _where(d: Diagnostic) -> str:
    parts = [d.file or "?"]
    if d.line is not None:
        parts.append(str(d.line))
        if d.column is not None:
            parts.append(str(d.column))
    return ":".join(parts)


def _check_block(check: CheckResult) -> list[str]:
    head = f"- {check.name} ({check.kind}, project {check.project}): {check.status}"
    if check.status == "timed_out":
        head += " (killed at the time limit)"
    elif check.exit_code not in (None, 0):
        head += f", exit code {check.exit_code}"
    lines = [head]
    for d in check.diagnostics[:_PER_CHECK]:
        code = f" {d.code}" if d.code else ""
        message = d.message.replace("\n", " ")[:300]
        lines.append(f"    {_where(d)}:{code} {message}")
    more = len(check.diagnostics) - _PER_CHECK + check.diagnostics_dropped
    if more > 0:
        lines.append(f"    ... and {more} more")
    if check.output_tail and not any(d.file for d in check.diagnostics):  # names alone: the output says why
        tail = check.output_tail.strip().splitlines()[-_TAIL_LINES:]
        lines.extend(f"    | {t}" for t in tail)
    return lines


def diagnostics_feedback(report: ValidationReport, *, max_chars: int = 4000) -> str:
    """Concise text naming every failed, timed-out or errored check with its diagnostics (what to
    send back is the caller's to say: a patch, or more edits by an agent's tools).

    A passed report yields a one-line confirmation."""
    bad = [c for c in report.checks if c.status in ("failed", "timed_out", "error")]
    if not bad:
        return "All checks passed."
    lines = [f"Your patch did not pass validation ({report.status}). Problems found:"]
    for check in bad:
        lines.extend(_check_block(check))
    text = "\n".join(lines)
    if len(text) > max_chars:
        cut = text[: max_chars - 40].rsplit("\n", 1)[0]
        text = cut + "\n... (feedback truncated)"
    return text
