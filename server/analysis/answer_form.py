"""What form a task's answer takes: a change to the code, or prose (a design, a review, an explanation).

A task with a workspace is checked as a patch by default, which is right for "Fix the retry
counter" and wrong for "Design a plugin system for the backends" or "Explain how retries work":
their answers are prose, so every model's correct answer would fail the check as "no patch" and
be escalated up to the most expensive model. `answer_form(text)` reads which it is from how the
task opens:

- "design": it opens with a design verb (design, propose, plan, outline, sketch, architect,
  brainstorm; "draft a design / plan / proposal / RFC / ADR") or asks how something should be
  structured, designed or organised ("How should we structure ...?");
- "review": it opens with review, audit, critique, assess or evaluate;
- "explanation": it opens with explain, describe, summarise, analyse, compare, investigate,
  diagnose, identify, list, research, find, locate, estimate, look into, recommend, suggest,
  advise, "tell / give / show me", or is a question (a question word and a first sentence ending in "?": "Why does ...?");
- "change": anything else, and any of the above that also asks for the change itself in a clause
  of its own ("Review the parser and fix what you find", "Why does it crash? Fix it.").

A review or explanation verb (research and investigate aside) must take an object (a determiner,
a wh-word, backticks, a path or a call), so that a title naming a feature ("Review and Rating
System", "Audit Logging") is not read as a request. A design verb needs none ("Design scalable
database schema for orders"): where the answer might be either, prose is the safe reading, since a
prose task returns whatever the model writes while a change task fails every answer that is not a
patch.

`asks_for_overview(text)`: a review or an explanation whose first sentence names the whole (the
architecture, an overview, the codebase, the repository's layout): served best by a summary.

A text that opens with a Markdown heading (an issue, often from a template) is a change. Only the
opening and clause starts are read, so "Explain how to add a backend" stays an explanation while
"Add a backend" is a change, and a commit-message-like task ("Set the library path for the right
architecture") is a change.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["AnswerForm", "answer_form", "asks_for_overview"]

AnswerForm = Literal["change", "design", "review", "explanation"]

_POLITE = r"(?:(?:please|kindly)\s+|(?:can|could|would|will) you(?: please)?\s+|i (?:need|want|would like) you to\s+|help me\s+|let'?s\s+|we need to\s+)?"
# A verb's object, so that a title naming a feature ("Review and Rating System", "Audit Logging",
# "Design System Implementation") is not read as a request: a determiner, a wh-word, backticks, a
# path or a call.
_OBJECT = (r"(?:\s+(?:the|a|an|this|these|that|those|our|my|its|their|your|how|what|why|whether|where|when|which|"
           r"if|all|any|every|each|possible|options|alternatives)\b|\s+(?:`|[\w./-]+\.\w{1,4}\b|\w+\(\)))")
_DESIGN_LEAD = re.compile(
    _POLITE + r"(?:(?:design|propose|plan|outline|sketch|architect|brainstorm)\b(?! system\b)"
    r"|(?:draft|write|prepare|create) (?:a|an|the) (?:design|architecture|plan|proposal|rfc|adr|technical spec)"
    r"|how (?:should|would|could|do|can) (?:we|i|it|this|they) (?:best )?(?:be )?(?:structure|design|architect|"
    r"organi[sz]e|lay out|split|layer)\b[^?\n]*\?)",
    re.IGNORECASE,
)
_REVIEW_LEAD = re.compile(_POLITE + r"(?:review|audit|critique|assess|evaluate)\b" + _OBJECT, re.IGNORECASE)
_EXPLAIN_LEAD = re.compile(
    _POLITE + r"(?:(?:research|investigate)\b(?! and\b)"
    r"|(?:explain|describe|summari[sz]e|analy[sz]e|compare|diagnose|identify|list|"
    r"find|locate|estimate|look into|recommend|suggest|advise|tell me|give me|show me|walk me through)\b" + _OBJECT
    + r"|(?:why|how|what|where|which|who|when|is|are|does|do|did|should|can|could)\b(?! not\b)[^.!?\n]*\?)",
    re.IGNORECASE,
)
# A change asked for in a clause of its own: at the text's start, after a sentence or line break,
# or after "and" / "then" / "also" / "and then".
_CHANGE_CLAUSE = re.compile(
    r"(?:^|[.;:!?\n]\s*|,\s*|\b(?:and|then|also)\s+)" + _POLITE
    + r"(?:implement|fix|add|refactor|rename|remove|delete|patch|migrate|port|bump|update|replace|rewrite|"
    r"build|convert|move|extract|modify|change (?:it|them|the|this|that|its|their)|make (?:it|the|this|them)|"
    r"write (?:the |a |an )?(?:code|function|tests?|class|method|script|module|migration)|create (?:the |a |an )?"
    r"(?:file|function|class|module|endpoint|test))\b",
    re.IGNORECASE,
)


def answer_form(text: str) -> AnswerForm:
    """The form `text`'s answer takes (see the module's docstring)."""
    head = text.lstrip()
    if head.startswith("#"):
        return "change"  # an issue or a document (often a template's "## What would you like ...?")
    head = head.lstrip(">*-`\"' \t")
    if _DESIGN_LEAD.match(head):
        form: AnswerForm = "design"
    elif _REVIEW_LEAD.match(head):
        form = "review"
    elif _EXPLAIN_LEAD.match(head):
        form = "explanation"
    else:
        return "change"
    return "change" if _CHANGE_CLAUSE.search(head) else form


# The whole rather than a part: the repository's architecture, structure or layout, its modules.
_WHOLE = re.compile(
    r"\b(?:architecture|overall structure|structure of (?:the|this|our) (?:code|project|repo\w*|package)|"
    r"overview|code ?base|(?:the|this|our) (?:repository|repo|project)(?:'s)? (?:layout|structure|modules)|"
    r"how (?:the|its) (?:parts|modules|components|pieces) fit)\b",
    re.IGNORECASE,
)


def asks_for_overview(text: str, form: AnswerForm | None = None) -> bool:
    """Whether a review or an explanation is about the whole ("Explain the architecture of this
    project", "Give me an overview of the codebase"): its first sentence names it. `form`: the
    text's `answer_form`, when the caller has it already."""
    if (form or answer_form(text)) not in ("review", "explanation"):
        return False
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0]
    return bool(_WHOLE.search(first))
