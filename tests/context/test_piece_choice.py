"""Which pieces of a large file are sent: the short gaps between two taken pieces travel with
them (a hit's surroundings for the price of a few lines), wide gaps do not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from server.context import ContextOptions, select_context
from server.context.select import SelectParams
from server.context.types import ContextItem
from tests.validation.helpers import make_repo

_FILLER = "".join(f"def unrelated_{i}(value):\n    total = value * {i}\n    return total + {i}\n\n\n" for i in range(120))


def _module() -> str:
    return (
        "def parse_zorble_header(text):\n    return text.split(':', 1)\n\n\n"
        "def tiny_between(value):\n    return value\n\n\n"  # lines 5-6: a 4-line gap (5-8)
        "def parse_zorble_footer(text):\n    return text.rsplit(':', 1)\n\n\n"  # lines 9-10
        + "".join(f"def far_{i}(value):\n    return value + {i}\n\n\n" for i in range(8))  # lines 13-44
        + "def parse_zorble_trailer(text):\n    return text.strip()\n\n\n"  # lines 45-46
        + _FILLER
    )


def _covered(items: Sequence[ContextItem], line: int) -> bool:
    return any(i.path == "codec.py" and i.start_line <= line <= i.end_line for i in items)


def test_a_short_gap_between_two_taken_pieces_of_a_file_is_sent_with_them(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"codec.py": _module()})
    options = ContextOptions(tmp_path / "cache")
    task = "parse_zorble_header parse_zorble_footer parse_zorble_trailer"
    quiet = SelectParams(neighbour=0.0, header=0.0, small_file_tokens=0, stop_ratio=0.5)  # the three hits only
    filled = select_context(repo, task, [], 400, options, params=replace(quiet, gap_lines=12))
    plain = select_context(repo, task, [], 400, options, params=replace(quiet, gap_lines=0))
    for sel in (filled, plain):
        assert all(_covered(sel.items, n) for n in (1, 9, 45)) and sel.total_tokens <= 400
    assert _covered(filled.items, 5) and not _covered(plain.items, 5)  # 4 lines apart: filled
    assert not _covered(filled.items, 30)  # 30 lines apart: not
    assert len(filled.items) < len(plain.items)


def test_pieces_too_long_for_the_room_left_do_not_stop_the_fill_before_a_short_one(tmp_path: Path) -> None:
    long_body = "".join(f"    zorble_total = zorble_total + zorble_step({i})\n" for i in range(100))
    files = {f"zorble_{k}.py": f"def zorble_run_{k}(zorble_total):\n{long_body}    return zorble_total\n"
             for k in range(30)}  # 30 chunks of ~900 tokens ranked first: none fits 300
    files["misc.py"] = "def helper(value):\n    return value  # zorble\n"
    repo = make_repo(tmp_path / "repo", files)
    sel = select_context(repo, "zorble total", [], 300, ContextOptions(tmp_path / "cache"))
    assert [i.path for i in sel.items] == ["misc.py"] and sel.total_tokens <= 300
