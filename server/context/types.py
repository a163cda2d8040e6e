"""Plain data of the context package: what a file is cut into and what a selection holds.

Lines are 1-based and inclusive everywhere; paths are relative to the repository root with
`/` separators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Chunk", "ContextItem", "FileRequest", "Selection", "SourceFile"]


@dataclass(frozen=True)
class Chunk:
    """A piece of a file cut at symbol boundaries (or a line window where no parser applies)."""

    start_line: int
    end_line: int
    kind: str  # function | method | class | module | window | header
    name: str = ""  # qualified name of what it defines (`Class.method`), "" for module code
    signature: str = ""  # the definition's first line, for the repository map
    defines: tuple[str, ...] = ()  # names this chunk defines (functions, classes, assignments)


@dataclass(frozen=True)
class SourceFile:
    """One candidate file of a snapshot: where it is and which content it has."""

    path: str
    blob: str  # git blob id of its content
    size: int


@dataclass(frozen=True)
class FileRequest:
    """A `files` entry from the caller: a path, optionally a line range."""

    path: str
    start_line: int | None = None
    end_line: int | None = None


@dataclass(frozen=True)
class ContextItem:
    """One selected piece: `path` lines `start_line`..`end_line`, why it was chosen, its tokens."""

    path: str
    start_line: int
    end_line: int
    tokens: int
    reason: str  # requested | symbol | ranked | neighbour | whole_file | repo_map


@dataclass(frozen=True)
class Selection:
    """What a task's model is shown, in rank order, never above `budget_tokens`."""

    items: tuple[ContextItem, ...]
    total_tokens: int
    budget_tokens: int
    commit: str | None = None  # the commit the text was read from; None = the working tree
    repo_tokens: int = 0  # tokens of every candidate file, for "sent vs whole repository"
    texts: tuple[str, ...] = field(default=(), repr=False)  # each item's text, same order
    repo_map: str = field(default="", repr=False)  # paths and top-level signatures, "" when no room
    repo_map_tokens: int = 0
    mode: str = "code"  # "summary": the repository's structure for a high-level task instead of ranked code

    def as_dict(self) -> dict[str, object]:
        """The shape tools return: `{"files": [...], "total_tokens", "budget_tokens"}`."""
        return {
            "files": [
                {"path": i.path, "start_line": i.start_line, "end_line": i.end_line, "tokens": i.tokens,
                 "reason": i.reason}
                for i in self.items
            ],
            "total_tokens": self.total_tokens,
            "budget_tokens": self.budget_tokens,
            "repo_map_tokens": self.repo_map_tokens,
            "mode": self.mode,
        }
