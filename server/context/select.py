"""Choose what a task's model sees from a repository, within a token budget.

Order of filling: the files and ranges the caller named; then ranked chunks (see
`server.context.rank`), where taking a chunk lifts its neighbours and its file's header
(imports) a little, and a small file whose best chunk is taken comes whole; then a compact
repository map (paths and top-level signatures) in the room left. Adjacent pieces of one
file are merged, so a piece touching one already taken is charged only for its new lines (a
whole file replaces its pieces and their charge). The total never exceeds the budget: every
count is of the exact text the prompt will carry (`server.context.render`), recounted after
merging.

A piece within `gap_lines` of one already taken from its file also takes the lines between (a
short gap is cheap and is usually the code around the hit): +0.02 changed-line coverage at 8k
in-sample, chosen on two repositories for the third in two of three (bench_context --loro).
The map gets the room the fill leaves, none reserved: a reserve of 4% of the budget cost no dev
coverage (0.815 / 0.954 at 8k / 32k either way) but cost the held-out tune split (the Debian
cases, `bench/context_heldout`) 0.638 -> 0.578 at 8k and 0.788 -> 0.770 at 32k; over 6k-10k
budgets (which smooths the cases that turn on the last small chunk) tune 0.617 vs 0.588, dev 0.807
vs 0.805. The map then appears where a repository is about the budget's size or smaller.
The tail of the fill: a chunk that cannot fit the room left even at 6 characters a token (code
runs 3-4.5) is passed over without counting its tokens and without counting as a miss, so the
50 misses that stop the fill are spent on chunks that might fit: tune 8k 0.638 -> 0.649, 9k
0.626 -> 0.638, dev 9k 0.822 -> 0.826, no budget of 4k-32k lower on either set; and a piece
whose added characters alone rule it out is refused before its tokens are counted (the fill no
longer stops at 96% of the budget, and the warm selection's time is mostly token counts).
Both with the ranking's spelled names (main 796ab76; `run.py --split tune`, `bench_context.py
--quality-only`): tune 8k 0.665, 32k 0.788 (chunk-BM25 0.554 / 0.764), dev 0.815 / 0.954
(0.640 / 0.821); dev leave-one-repository-out over the map's reserve (4% or none) and gap_lines
is a tie (held out 0.815 / 0.954 either way).

Measured on both sets (`bench/context_heldout` tune split and the dev cases; "~8k" is the mean
over 6k-10k budgets) and kept out:
- Where the 8k tokens go (dev / tune, share of the selection): piece headers 3.1% / 3.1%,
  import lines 1.6% / 2.3% (they hold 3.9% / 4.8% of the gold lines: denser than the rest),
  docstrings 18% / 12% (the middles of docstrings of 10+ lines hold 6% / 1% of the gold lines at
  8% / 7% of the gold files' tokens, so cutting them buys less than it loses on dev), test files
  1.4% / 0.1%, whole small files 5.5% / 14%, pieces of over 60 lines 74% / 76%; 28% / 21% of
  the tokens are in pieces holding a gold line, 0.7% / 0.5% of the selected lines are gold.
- Perfect piece choice inside the tokens the selection gives each file (oracle) would reach 8k
  0.889 / 0.694 (ours 0.815 / 0.638): the rest of the loss is files never reached.
- Smaller pieces: chunks cut at 60 lines in 40-line windows, dev 8k 0.770; larger (200 / 100),
  0.777; classes over 40 or 80 lines cut into header and methods, 0.770 / 0.782 (the index's
  120 / 80 / 20 stays). Cutting a long piece to the lines around its task-word hits: hit lines
  are dense, so +-10 lines keep 90% of the gold at 79% of the tokens on dev (a loss at 8k).
- Fill order by score x (200 / tokens) ** a: a = 0.3 to 0.8 loses 0.12-0.48 at 8k on dev (big
  chunks hold the gold more often); a = 0.02 lifts tune ~8k 0.617 -> 0.634 but dev 8k 0.815 ->
  0.803 (one case; leave-one-repository-out picks 0 for werkzeug); a < 0 loses everywhere.
- More files at less depth: the best chunk of each of the top 4-10 files first (up to 400 or
  1000 tokens each): tune 8k 0.544-0.644 vs 0.638, dev 0.770-0.827 vs 0.815, no consistent sign.
- Neighbours (changes cluster): lifting a taken chunk's neighbours at 0.7-1.0 of its score, tune
  8k 0.557-0.626, dev 0.788-0.820; only the top 1-6 chunks' neighbours, no change beyond noise;
  1-8 lines of margin around every piece, tune ~8k 0.617-0.625 vs 0.621, dev 0.802-0.808 vs
  0.808. The neighbour (0.35) and header (0.3) lifts as they are change no case of either set
  (a chunk's own score is above them); left in place.
- Equal scores ordered by distance to the file's best chunk: no case changes (few ties).
- Whole small files at 0-2,500 tokens (1,500 kept): one or two cases either way.

Measured later on both sets (`bench/context_heldout/sweep.py`: dev / tune coverage at 8k, 32k and
the mean over 6k-10k "~8k"; from dev 0.815 / 0.954 / 0.808, tune 0.665 / 0.788 / 0.651) and kept
out; none lifts tune at 8k beyond one case. Where the tokens go first: the map gets 0 tokens at 8k
on both sets (the fill leaves < 40) and 80 tokens over all 42 tune cases at 32k, so there is
nothing to move from it; named files 0 (the benches name none); the fill uses 98.4% / 99.3% of 8k
(dev / tune); whole small files 21% / 24%; code in another language than the gold's 1% / 10%;
merged pieces of over 120 lines hold 59% / 47% of the tokens, 61-120 lines 17% / 30%, 21-60
18% / 18%, up to 20 lines 6% / 4% (13 pieces a case on both).
Missed gold lines in files the selection reached are mostly far from a taken piece (tune: 0.008
of the coverage within 10 lines of one, 0.066 beyond 40): the loss is whole files never reached
(tune 0.247 of 0.335 lost).
- One file's ranked pieces capped at a share of the budget (0.25 / 0.35 / 0.5 / 0.65 / 0.8): dev
  8k 0.741 / 0.742 / 0.791 / 0.827 / 0.827, ~8k 0.776 (0.5) / 0.810 / 0.811; tune 8k 0.593 /
  0.597 / 0.646 / 0.663 / 0.663, ~8k 0.619 / 0.634 / 0.650, 32k 0.739-0.788: the top file's depth
  holds its gold more often than the next files' best pieces.
- Margin lines taken with every ranked piece: after only 1 / 2 / 4 (dev 8k 0.815 / 0.803 / 0.805,
  tune 0.666 / 0.654 / 0.643), 1 or 2 each side (dev ~8k 0.808 / 8k 0.809, tune ~8k 0.647, 32k
  0.772-0.784); margins only in the room the fill and the map leave (1-5 lines after, 0-2
  before, pieces in rank order): one tune case 0.97 -> 0.98, the room (~60 tokens) is too small.
- `gap_lines` 6 / 20 / 30 / 45: dev 8k 0.804 / 0.805 / 0.803 / 0.810, tune 0.665 / 0.667 /
  0.655 / 0.659 (45: 32k 0.763).
- Runs of 4 / 8 / 15+ comment lines cut from a ranked piece's ends (license blocks, comment
  banners; runs of 8+ comment lines are 3.4% / 0.9% of the tune / dev tokens at 8k and hold no
  gold line): ~8k dev 0.811 / 0.808 / 0.808, tune 0.642 / 0.652 / 0.652, 8k unchanged. Literal-
  only lines are 4% / 6% of the tokens and hold 0.5% / 3% of the selected gold: not tried.
- The head of a chunk too long for the room left (up to 1-10 such chunks scoring >= 0.0-0.3 of the
  best, at least 8 lines): dev ~8k 0.809, tune 8k 0.665 but 6k / 7k 0.619 / 0.641 -> 0.579 / 0.581.
- A small file whole only when the chunk taken scores >= 0.2 / 0.4 / 0.6 of the best: no change
  but noise (tune ~8k 0.651 / 0.651 / 0.648, dev 0.808 / 0.808 / 0.811).
- Near-duplicate pieces (60% of lines shared with a piece of another file): 1.3% of the tune
  tokens (one case, two SWIG wrappers), 0% of dev: not worth a rule.
- Breadth when the ranking is unsure: when the second file's best chunk scores >= 0.85-0.95 of
  the first's, the best chunk of each of the top 2-5 files first: dev unchanged at every budget,
  tune ~8k 0.645-0.651 (k = 5: 8k 0.669, one case). With the neighbours and file header of those
  chunks lifted as if they scored 5x the best (what a first version did by mistake): dev unchanged
  at every budget, tune 8k 0.674, ~8k 0.662 (k = 3, 0.9), 32k 0.778: one case up at every budget
  (pandas, whose gold lines include the import lines of the top files' headers: 8k 0.08 -> 0.46)
  and one down at 32k (electrum 0.82 -> 0.25); k = 5 or 0.8: dev ~8k 0.802-0.805, tune
  0.631-0.661; every top file's best chunk first whatever the profile (k = 5): dev ~8k 0.753,
  tune 0.587.

Measured on the dev cases and kept out: taking the best-ranked file whole (-0.02 to -0.05 at 8k),
discounting a file's further pieces for breadth (-0.06), weighting the task's first line, taking
the best file's chunks first up to 40% of the budget, lifting neighbours at 0.6 of a hit's score.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from server.analysis.tokens import count_tokens
from server.context.index import ChunkRow, Snapshot
from server.context.rank import Ranked, RankParams, file_prior, rank
from server.context.render import piece_tokens
from server.context.repomap import build_repo_map
from server.context.summary import build_summary
from server.context.types import ContextItem, FileRequest, Selection

__all__ = ["SelectParams", "select_from_snapshot"]


_MAX_MISSES = 50  # the fill stops after this many ranked chunks in a row did not fit (each try counts tokens)
_MAX_CHARS_PER_TOKEN = 6  # code runs 3-4.5 characters a token: a chunk of a file with no piece yet costs more than chars / 6
_SUMMARY_CANDIDATES = 600  # ranked chunks a summary orders its files by
_MIN_CANDIDATES = 2000  # ranked chunks the fill may draw on: this many, or one per 4 tokens of budget if more


@dataclass(frozen=True)
class SelectParams:
    neighbour: float = 0.35  # a taken chunk's neighbours score this share of its score
    header: float = 0.3  # ... and its file's first chunk this share
    small_file_tokens: int = 1500  # a file this small comes whole once any of it is taken
    stop_ratio: float = 0.0  # stop taking chunks scoring below this share of the best
    map_share: float = 0.0  # room kept for the repository map (share of the budget); 0: what the fill leaves
    gap_lines: int = 12  # a piece this close to one taken of its file also takes the lines between
    rank: RankParams = field(default_factory=RankParams)


@dataclass
class _Taken:
    doc: int
    start: int
    end: int
    rank: int
    reason: str


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


class _Texts:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.cache: dict[int, list[str]] = {}

    def lines(self, doc: int) -> list[str]:
        if doc not in self.cache:
            self.cache[doc] = _lines(self.snapshot.text(doc))
        return self.cache[doc]

    def piece(self, doc: int, start: int, end: int) -> str:
        return "\n".join(self.lines(doc)[start - 1:end]) + "\n"


def _added_cost(texts: _Texts, doc: int, path: str, start: int, end: int, have: list[tuple[int, int]]) -> int:
    """Tokens that lines `start..end` add to what is taken of a file (`have`) once touching
    pieces merge: only their new lines, and a piece header only if they touch no taken piece."""
    if not any(a <= end + 1 and start <= b + 1 for a, b in have):
        return piece_tokens(path, start, end, texts.piece(doc, start, end))
    return sum(count_tokens(texts.piece(doc, a, b)) for a, b in _minus(start, end, have))


def _added_chars(texts: _Texts, doc: int, start: int, end: int, have: list[tuple[int, int]]) -> int:
    """Characters (newlines included) of the lines `start..end` adds to what is taken of a file."""
    lines = texts.lines(doc)
    return sum(len(line) + 1 for a, b in _minus(start, end, have) for line in lines[a - 1:b])


def _merge(taken: list[_Taken]) -> list[_Taken]:
    """Overlapping or touching pieces of one file become one, keeping the best rank."""
    by_doc: dict[int, list[_Taken]] = {}
    for t in taken:
        by_doc.setdefault(t.doc, []).append(t)
    merged: list[_Taken] = []
    for pieces in by_doc.values():
        pieces.sort(key=lambda t: t.start)
        current = pieces[0]
        for t in pieces[1:]:
            if t.start <= current.end + 1:
                if t.rank < current.rank:
                    current.reason = t.reason
                current.end = max(current.end, t.end)
                current.rank = min(current.rank, t.rank)
            else:
                merged.append(current)
                current = t
        merged.append(current)
    merged.sort(key=lambda t: t.rank)
    return merged


def select_from_snapshot(
    snapshot: Snapshot,
    task: str,
    requested: Sequence[FileRequest],
    budget: int,
    params: SelectParams | None = None,
    *,
    mode: str = "code",
    commits: Sequence[str] = (),
    focus: str = "",
) -> Selection:
    """The selection for `task` from `snapshot` (requests already validated against it).

    `focus`: the folder of the repository the caller's workspace is ("" for the root, else ending
    in "/"); the ranking prefers its files (`rank`).

    `mode` "summary" (a high-level task): what the caller named, then a summary of the
    repository (`server.context.summary`, with `commits`' subjects) instead of ranked code.
    """
    params = params or SelectParams()
    texts = _Texts(snapshot)
    by_path = {d.path: d.id for d in snapshot.docs.values()}
    taken: list[_Taken] = []
    used = 0
    rank_counter = 0
    covered: dict[int, list[tuple[int, int]]] = {}

    charged: dict[int, int] = {}  # tokens charged per doc, refunded when the whole file replaces its pieces

    def is_covered(doc: int, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in covered.get(doc, ()))

    def take(doc: int, start: int, end: int, reason: str) -> bool:
        nonlocal used, rank_counter
        if is_covered(doc, start, end):
            return True
        if params.gap_lines:
            start, end = _close_gaps(start, end, covered.get(doc, []), params.gap_lines)
        have = covered.get(doc, [])
        if used + _added_chars(texts, doc, start, end, have) // _MAX_CHARS_PER_TOKEN > budget:
            return False  # cannot fit: known without counting tokens
        cost = _added_cost(texts, doc, snapshot.docs[doc].path, start, end, have)
        if used + cost > budget:
            return False
        used += cost
        charged[doc] = charged.get(doc, 0) + cost
        taken.append(_Taken(doc, start, end, rank_counter, reason))
        rank_counter += 1
        covered.setdefault(doc, []).append((start, end))
        return True

    def take_whole(doc: int, holes: list[tuple[int, int]], limit: int, reason: str = "whole_file") -> bool:
        """The whole file (less `holes`) in place of its pieces taken so far, if it fits `limit`;
        with no piece taken before, its first piece keeps the `reason` of the chunk that brought it."""
        nonlocal used, rank_counter
        pieces = _minus(1, max(1, snapshot.docs[doc].n_lines), holes)
        if all(is_covered(doc, a, b) for a, b in pieces):
            return True
        path = snapshot.docs[doc].path
        refund = charged.get(doc, 0)
        if not holes and used - refund + snapshot.docs[doc].chars // _MAX_CHARS_PER_TOKEN > limit:
            return False  # cannot fit: known without counting tokens
        cost = sum(piece_tokens(path, a, b, texts.piece(doc, a, b)) for a, b in pieces)
        if used - refund + cost > limit:
            return False
        before = min((t for t in taken if t.doc == doc), key=lambda t: t.rank, default=None)
        first, why = (before.rank, before.reason) if before else (rank_counter, reason)
        taken[:] = [t for t in taken if t.doc != doc]
        for k, (a, b) in enumerate(pieces):
            taken.append(_Taken(doc, a, b, first, why) if k == 0 else _Taken(doc, a, b, rank_counter, "whole_file"))
            rank_counter += 1
        used += cost - refund
        charged[doc] = cost
        covered[doc] = list(pieces)
        return True

    # 1. What the caller named.
    requested_docs: list[int] = []
    named_texts: list[str] = []
    secret_ranges = _secret_ranges(snapshot, [by_path[r.path] for r in requested if r.path in by_path])
    for req in requested:
        doc = by_path[req.path]
        n = snapshot.docs[doc].n_lines
        start, end = req.start_line or 1, req.end_line or n
        named_texts.append(texts.piece(doc, start, end))
        for a, b in _minus(start, end, secret_ranges.get(doc, [])):
            if not take(doc, a, b, "requested"):
                requested_docs.append(doc)  # too big whole: its best chunks compete first below
    if mode == "summary":
        ranked = rank(snapshot, task, named_texts, params.rank, limit=_SUMMARY_CANDIDATES, focus=focus)
        summary, summary_tokens = build_summary(snapshot, ranked, budget - used, commits)
        return _selection(snapshot, texts, taken, budget, summary, summary_tokens, mode)
    # 2. Ranked chunks; a repository about the size of the budget is all candidate.
    small = snapshot.total_chars() // 4 <= 2 * budget
    # The budget fills long before the tail of a large repository's ranking (speed).
    ranked = rank(snapshot, task, named_texts, params.rank, limit=None if small else max(_MIN_CANDIDATES, budget // 4),
                  focus=focus)
    if small:
        ranked = ranked + _everything_else(snapshot, ranked, params)
    if ranked:
        _fill(snapshot, ranked, requested_docs, params, take, take_whole, int(budget * (1 - params.map_share)),
              lambda: used, lambda doc: doc in covered)
    # 3. The repository map in the room left.
    repo_map, map_tokens = build_repo_map(snapshot, ranked, budget - used)
    return _selection(snapshot, texts, taken, budget, repo_map, map_tokens, mode)


def _selection(snapshot: Snapshot, texts: _Texts, taken: list[_Taken], budget: int, repo_map: str,
               map_tokens: int, mode: str) -> Selection:
    """The taken pieces, merged and in rank order, with the map (or summary) after them."""
    items: list[ContextItem] = []
    out_texts: list[str] = []
    total = 0
    for t in _merge(taken):
        path = snapshot.docs[t.doc].path
        text = texts.piece(t.doc, t.start, t.end)
        tokens = piece_tokens(path, t.start, t.end, text)
        if total + tokens + map_tokens > budget:
            continue  # merging can shift a count by a token; never pass the budget
        total += tokens
        items.append(ContextItem(path, t.start, t.end, tokens, t.reason))
        out_texts.append(text)
    return Selection(tuple(items), total + map_tokens, budget, snapshot.commit,
                     texts=tuple(out_texts), repo_map=repo_map, repo_map_tokens=map_tokens, mode=mode)


def _fill(snapshot: Snapshot, ranked: list[Ranked], requested_docs: list[int], params: SelectParams,
          take: Callable[[int, int, int, str], bool],
          take_whole: Callable[[int, list[tuple[int, int]], int, str], bool],
          budget: int, used: Callable[[], int], has_piece: Callable[[int], bool]) -> None:
    rows_of: dict[int, list[ChunkRow]] = {}
    for r in ranked:
        rows_of.setdefault(r.chunk.doc, [])
    rows_of.update(snapshot.chunks_of(rows_of.keys() | set(requested_docs)))
    position = {row.id: (doc, i) for doc, rows in rows_of.items() for i, row in enumerate(rows)}
    best = ranked[0].score
    boost = best * 10
    lifted = set(requested_docs)
    heap = [(-(r.score + (boost if r.chunk.doc in lifted else 0.0)), r.chunk.start_line, r.chunk.id, r.reason)
            for r in ranked]
    heapq.heapify(heap)  # keys are unique (chunk id): pops come in the same order as pushing each
    done: set[int] = set()
    whole_tried: set[int] = set()

    def consider(score: float, chunk_id: int, reason: str) -> bool:
        """Take the chunk (or its whole small file); False when it did not fit."""
        doc, i = position[chunk_id]
        rows = rows_of[doc]
        row = rows[i]
        if row.secret:
            return True
        done.add(chunk_id)
        if doc not in whole_tried and snapshot.docs[doc].chars // 4 <= params.small_file_tokens:
            whole_tried.add(doc)
            if take_whole(doc, [(r.start_line, r.end_line) for r in rows if r.secret], budget,
                          "whole_file" if reason == "neighbour" else reason):
                done.update(r.id for r in rows)
                return True
        if not take(doc, row.start_line, row.end_line, reason):
            return False
        if reason == "neighbour":
            return True  # only a chunk ranked on its own lifts its neighbours: no chain through a file
        for j, share in ((i - 1, params.neighbour), (i + 1, params.neighbour), (0, params.header)):
            if 0 <= j < len(rows) and rows[j].id not in done and share > 0:
                heapq.heappush(heap, (-(score * share), rows[j].start_line, rows[j].id, "neighbour"))
        return True

    misses = 0  # chunks in a row that did not fit: a nearly full budget stops the fill (each try counts tokens)
    while heap and used() < budget and misses < _MAX_MISSES:
        neg, _, chunk_id, reason = heapq.heappop(heap)
        if chunk_id in done or -neg < params.stop_ratio * best:
            continue
        doc, i = position[chunk_id]
        if not has_piece(doc) and rows_of[doc][i].chars // _MAX_CHARS_PER_TOKEN > budget - used():
            continue  # too long for the room left whatever its tokens: passed over uncounted, not a miss
        misses = 0 if consider(-neg, chunk_id, reason) else misses + 1


def _close_gaps(start: int, end: int, have: list[tuple[int, int]], gap: int) -> tuple[int, int]:
    """`start..end` widened over a gap of at most `gap` lines to a piece in `have`, either side."""
    for a, b in have:
        if b < start and start - b - 1 <= gap:
            start = b + 1
        if end < a and a - end - 1 <= gap:
            end = a - 1
    return start, end


def _everything_else(snapshot: Snapshot, ranked: list[Ranked], params: SelectParams) -> list[Ranked]:
    """Every chunk the ranking left out, source files first, each below every ranked one."""
    seen = {r.chunk.id for r in ranked}
    floor = min((r.score for r in ranked), default=1.0) * 0.01
    rest: list[Ranked] = []
    for doc, rows in snapshot.chunks_of(snapshot.docs).items():
        prior = file_prior(snapshot.docs[doc].path, params.rank)
        rest.extend(Ranked(row, floor * prior, "ranked") for row in rows if row.id not in seen and not row.secret)
    rest.sort(key=lambda r: (-r.score, r.chunk.doc, r.chunk.start_line))
    return rest


def _secret_ranges(snapshot: Snapshot, docs: list[int]) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for doc, rows in snapshot.chunks_of(docs).items():
        out[doc] = [(r.start_line, r.end_line) for r in rows if r.secret]
    return out


def _minus(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`start..end` without the lines in `holes`."""
    pieces = [(start, end)]
    for a, b in holes:
        nxt: list[tuple[int, int]] = []
        for s, e in pieces:
            if b < s or a > e:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a - 1))
            if b < e:
                nxt.append((b + 1, e))
        pieces = nxt
    return pieces
