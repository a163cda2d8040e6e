"""What kind of request a prompt is, for the prior's score: exact work, open-ended writing, or neither.

`request_kind(text)` is +1 when the prompt asks for exact work (code, or mathematics: a formula,
a calculation, a proof), -1 when it asks for open-ended writing or role-play (a poem, a story, an
essay or a letter to compose; "pretend you are ..."), and 0 otherwise. Exact work wins a tie:
"write a function" is code. `is_open_question(text)` says whether it is an open question put to
an assistant with no single right answer ("How can I manage stress?"): not code, not mathematics,
not a multiple-choice question (`is_multiple_choice`), not a problem over stated quantities.

Why these two directions: published comparisons of strong and weak models on open chat prompts
find the strong model's lead largest on mathematics and coding and smallest on creative writing
(RouteLLM, Ong et al. 2024; Chatbot Arena's category leaderboards). The word lists are generic
genre and notation cues written for this purpose, not fitted to any labels; how much the kind
moves a score is `LengthTerm.writing_points` / `question_points` / `other_points`
(server.analysis.prior): exact work, this product's usual input, is never moved. How the points
were chosen is in bench/routing_eval/README.md.
"""

from __future__ import annotations

import re

__all__ = ["is_exact_work", "is_multiple_choice", "is_open_ended_writing", "is_open_question", "request_kind"]

# Code: a fenced block, a call with arguments, snake_case or camelCase identifiers, statement
# endings (case matters here), or the words people use when asking for a program.
_CODE_NOTATION = re.compile(
    r"```"
    r"|\b[A-Za-z_]\w*\([^()\n]{0,60}\)"
    r"|\b[a-z]+_[a-z]\w*\b"
    r"|\b[a-z]+[A-Z][a-z]\w*\b"
    r"|[;{}]\s*$",
    re.MULTILINE,
)
_CODE_WORDS = re.compile(
    r"\b(?:program(?:ming)?|code|coding|function|algorithm|implement\w*|python|javascript|typescript|java|"
    r"c\+\+|rust|golang|sql|regex|regular expression|html|css|api|compiler?|debug\w*|array|"
    r"recursion|recursive|binary search|linked list|data structure)(?!\w)",
    re.IGNORECASE,
)
# Mathematics: arithmetic or an equation between numbers or variables, a power, f(x), or the
# words of a calculation or a proof.
_MATH = re.compile(
    r"\d\s*[-+*/×÷^=<>]\s*\(?-?\d"
    r"|\b[a-z]\s*(?:\^|\*\*)\s*\d"
    r"|[a-z0-9)]\s*=\s*-?[a-z0-9(]"
    r"|\b(?:solve|equation|calculate|compute|probability|integral|derivative|theorem|prove|proof|"
    r"polynomial|prime number|factori[sz]\w*|how many|how much|percent(?:age)?|perimeter|"
    r"triangle|radius|matrix|vector|algebra\w*|geometry|arithmetic)\b",
    re.IGNORECASE | re.MULTILINE,
)
_WRITING = re.compile(
    r"\b(?:write|compose|draft|create|craft|pen)\b[^.?!\n]{0,40}?\b(?:poem|story|stories|essay|blog|letter|"
    r"speech|song|lyrics|haiku|limerick|sonnet|tweet|slogan|advertisement|narrative|article|"
    r"dialogue|screenplay|toast|eulogy|anecdote)s?\b"
    r"|\b(?:poem|poetry|haiku|sonnet|limerick|short story|fiction|screenplay|lyrics|persuasive|brainstorm)\b"
    r"|\b(?:pretend|act as (?:a|an|my|if|though)|role-?play|imagine (?:you|yourself)|as if you were|in the style of)\b",
    re.IGNORECASE,
)

# An open question put to an assistant: the text opens with an interrogative or an open-request
# verb, or its first sentence (up to the first full stop, mark or line break) ends in "?". A task
# title ("Add login page") or an issue report ("# Title ...") opens with neither.
_QUESTION_START = re.compile(
    r"\s*(?:how|what|why|which|who|whom|whose|when|where|can|could|would|should|do|does|did|is|are|was|were|"
    r"will|explain|describe|discuss|compare|suggest|tell)\b",
    re.IGNORECASE,
)
_FIRST_SENTENCE = re.compile(r"[^.!?\n]*[.!?\n]?")
# Questions with one right answer are exact work even in plain words: a multiple-choice question
# (two or more option lines "A. ..." / "(b) ...") or a problem stating three or more quantities.
_OPTION_LINE = re.compile(r"^\s*\(?[A-Ea-e][.)]\s", re.MULTILINE)
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?")

# A user story is a requirement of software work, not creative writing.
_USER_STORY = re.compile(r"\buser stor(?:y|ies)\b", re.IGNORECASE)


def is_exact_work(text: str) -> bool:
    """Whether `text` asks for code or mathematics."""
    return bool(_CODE_NOTATION.search(text) or _CODE_WORDS.search(text) or _MATH.search(text))


def is_open_ended_writing(text: str) -> bool:
    """Whether `text` asks for open-ended writing or role-play (and not for code or mathematics).

    The writing cues are read first: most requests have none, so the costlier exact-work patterns
    run only for the few that do.
    """
    return bool(_WRITING.search(text)) and not _USER_STORY.search(text) and not is_exact_work(text)


def is_multiple_choice(text: str) -> bool:
    """Whether `text` is a multiple-choice question: two or more option lines ("A. ...", "(b) ...")."""
    return len(_OPTION_LINE.findall(text)) >= 2


def is_open_question(text: str) -> bool:
    """Whether `text` is an open question or request put to an assistant, with no single right answer.

    Open questions ("How can I manage stress?", "Explain how vaccines work") are where published
    comparisons find a strong model's lead smallest after creative writing; a question with one
    right answer - code, mathematics, a multiple-choice question, a problem over stated quantities -
    is not one. The cheap form test runs first: task titles and issue reports fail it.
    """
    match = _FIRST_SENTENCE.match(text.lstrip())
    opens = bool(_QUESTION_START.match(text)) or bool(match and match.group().endswith("?"))
    if not opens or is_exact_work(text):
        return False
    return not is_multiple_choice(text) and len(_QUANTITY.findall(text)) < 3


def request_kind(text: str) -> int:
    """+1 for exact work (code, mathematics), -1 for open-ended writing or role-play, 0 otherwise."""
    if is_exact_work(text):
        return 1
    return -1 if is_open_ended_writing(text) else 0
