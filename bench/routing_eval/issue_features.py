"""Surface features of an issue-shaped task description (what a caller would pass as the task).

Each feature is a number read from the text alone with a regular expression or a count: length,
code blocks, stack traces and error messages, named files / functions / paths, reproduction
steps, expected / actual sections, feature-request vs bug wording, distinct identifiers. Used by
`coding_features.py` to study what separates issues a cheap model's agent solves from those only
a strong one solves, held out by repository. Pure Python, no dependencies.
"""

from __future__ import annotations

import math
import re

from server.analysis.prior import reading_grade

_CODE_FENCE = re.compile(r"```")
_INLINE_CODE = re.compile(r"`[^`\n]{1,80}`")
_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w$.<>]+\(|panic:|goroutine \d+|^\s+File \".+\", line \d+"
    r"|Error: |Exception\b|\bstack ?trace\b",
    re.M | re.I,
)
_ERROR_WORDS = re.compile(r"\b(error|errors|exception|fails?|failed|failing|crash(?:es|ed)?|panic)\b", re.I)
_PATH = re.compile(r"(?<![\w/])(?:[\w.-]+/)+[\w.-]+\.[a-z]{1,5}\b|\b[\w-]+\.(?:py|go|ts|tsx|js|jsx|java|rs|yml|yaml|json)\b")
_CALL = re.compile(r"\b[A-Za-z_][\w.]*\(")
_SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
_CAMEL = re.compile(r"\b[a-z]+(?:[A-Z][a-z0-9]*)+\b|\b(?:[A-Z][a-z0-9]+){2,}\b")
_DOTTED = re.compile(r"\b[a-zA-Z_]\w*(?:\.[a-zA-Z_]\w*){1,}\b")
_STEPS = re.compile(r"steps? to reproduce|how to reproduce|reproduc(?:e|ing|tion)", re.I)
_EXPECTED = re.compile(r"expected (?:behaviou?r|result|outcome)|what did you expect|should (?:be|have|return)", re.I)
_ACTUAL = re.compile(r"actual (?:behaviou?r|result)|current behaviou?r|what happened instead|instead,? ", re.I)
_FEATURE = re.compile(
    r"\b(feature|enhancement|add support|support for|allow|introduce|implement|new option|proposal|would like|ability to)\b",
    re.I,
)
_BUG = re.compile(r"\b(bug|broken|incorrect(?:ly)?|wrong|regression|unexpected(?:ly)?|does not|doesn't|not work)\b", re.I)
_REFACTOR = re.compile(r"\b(refactor|migrate|deprecat\w*|rename|cleanup|clean up|consolidat\w*|restructur\w*)\b", re.I)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_HEADING = re.compile(r"^\s*(?:#+ |\*\*[^*\n]{2,60}\*\*\s*$)", re.M)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)*\b")
_URL = re.compile(r"https?://\S+")

NAMES: tuple[str, ...] = (
    "log_chars", "log_lines", "code_blocks", "inline_code", "trace", "error_words", "paths", "calls",
    "identifiers", "steps", "expected", "actual", "feature", "bug", "refactor", "bullets", "headings",
    "numbers", "urls", "grade", "code_share",
)


def _log(n: float) -> float:
    return math.log2(1.0 + n)


def issue_features(text: str) -> list[float]:
    """The features of `text`, in NAMES order (counts are log2(1 + n); indicators 0/1)."""
    identifiers = set(_SNAKE.findall(text)) | set(_CAMEL.findall(text)) | set(_DOTTED.findall(text))
    fenced = text.split("```")
    code_chars = sum(len(part) for part in fenced[1::2]) + sum(len(m) for m in _INLINE_CODE.findall(text))
    return [
        _log(len(text)),
        _log(text.count("\n")),
        _log(len(_CODE_FENCE.findall(text)) // 2),
        _log(len(_INLINE_CODE.findall(text))),
        float(bool(_TRACE.search(text))),
        _log(len(_ERROR_WORDS.findall(text))),
        _log(len(set(_PATH.findall(text)))),
        _log(len(set(_CALL.findall(text)))),
        _log(len(identifiers)),
        float(bool(_STEPS.search(text))),
        float(bool(_EXPECTED.search(text))),
        float(bool(_ACTUAL.search(text))),
        _log(len(_FEATURE.findall(text))),
        _log(len(_BUG.findall(text))),
        _log(len(_REFACTOR.findall(text))),
        _log(len(_BULLET.findall(text))),
        _log(len(_HEADING.findall(text))),
        _log(len(_NUMBER.findall(text))),
        _log(len(_URL.findall(text))),
        max(0.0, min(30.0, reading_grade(text))) / 10.0,
        code_chars / max(1, len(text)),
    ]
