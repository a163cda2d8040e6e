"""Score every chunk of a snapshot against a task: lexical match, file match, symbol graph, feedback.

Signals, each scaled to 0..1 by its best value, then summed with weights:
- chunk BM25 over identifier-split terms (path, defined names and body as separate columns);
- file BM25 of the chunk's file, so a chunk in the file the task is about outranks a lone
  lucky match elsewhere (file-level and chunk-level fusion);
- the symbol graph: a chunk that defines a name the task (or a file the caller named) mentions
  scores by how specific that name is (one definition in the repository: full weight), and its
  file shares the credit; a file whose chunks use a compound name the task writes as code
  (`url_decode`) without defining it gains too: "replace uses of X" is about X's callers;
- pseudo-relevance feedback: chunks matching the rare words that the best first-pass chunks of
  source files share (the repository's own words for what the task describes);
- a source file gains a share of its test file's score (`tests/test_tags.py` -> `tags.py`):
  tests often say in the task's words what the module does;
- the import graph (`server.context.imports`): a file gains 0.15 of the best score among the
  files it imports or is imported by (the change is often one import away from the best lexical
  match): 8k coverage on the dev cases 0.811 -> 0.815 in-sample, on the Debian held-out tune
  split (`bench/context_heldout`) 0.554 -> 0.578 at 8k, 0.763 -> 0.770 at 32k; its report split
  0.696 at 8k either way. With 20 feedback words as well (10 kept): dev 0.836 (also leave one
  repository out), tune 0.596, report 0.689; but the second query on 20 words put the warm
  selection's p95 at 200-203 ms on the 2,000-file repository (target 200; 173-185 with 10).
- a name the task spells out in plain words (`server.context.spelled`: "zone creation and pool
  moves" -> `create_zone`, `pool_move_zone`): the chunk defining it gains up to `w_spelled` (a
  share of the best such name's score). Debian held-out tune split 8k 0.578 -> 0.618 (two cases
  up, none down: mistral 0 -> 1.00, designate 0 -> 0.67), 32k 0.770 either way; dev 0.815 / 0.954
  unchanged (their tasks write such names as code, which the symbol graph already finds); leave
  one repository out: a tie. A file share of it lost (0.15 / 0.3 / 0.6: 8k 0.618 / 0.622 /
  0.595, 32k 0.763 each); the share of a name's words the task must hold (0.5-1.0) and the
  weight (1.0-2.0) move no case. The
  warm selection's per-task CPU p95 on the 2,000-file repository: 105 ms with it, 107 without.
- feedback on 20 words at weight 1.5 and the import graph at 0.3 (from 10 words at 1.0 and 0.15),
  chosen in session 11 with a third tuning set, PyPI patch releases (`bench/context_heldout`
  README: the variant with the best case-weighted mean coverage over 6k-10k on the three tuning
  sets, none of them more than 0.015 lower): ~8k dev / Debian tune / PyPI tune 0.808 / 0.651 /
  0.707 -> 0.827 / 0.657 / 0.742. Measured once after, old and new in the same runs: the PyPI
  measured set 8k 0.793 -> 0.800, 32k 0.898 -> 0.929; the Debian report split 8k 0.688 -> 0.681,
  32k 0.824 -> 0.838 (106 unseen cases together: 8k 0.745 -> 0.746, 32k 0.865 -> 0.888); dev 8k
  0.815 -> 0.826, 32k 0.954 -> 0.962. Warm selection p95 on 2,000 files 151 -> 155 ms.
- a longer file's part of the score counts up to 0.4 more (`w_size_file`; s = log(1 + lines) over
  the longest candidate's): BM25's length normalisation pushes long files down, while bug
  localisation finds them more often changed (BugLocator's rVSM). Chosen in session 12 by the
  three-tuning-set rule (case-weighted ~8k 0.7519 -> 0.7544, one case's worth); measured once
  after: PyPI 8k 0.800 -> 0.802, 32k 0.929 -> 0.946; Debian report 8k 0.681 either way, 32k
  0.838 -> 0.828. Scaling the chunk's whole score instead read below the defaults' case-weighted
  mean at every weight tried (0.1-0.8; best 0.751 against 0.752).
- a task about the uses of a name written as code ("replace uses of `url_decode`", "callers of
  Context.get_all()", `server.context.terms.usage_targets`): the chunks that use it without
  defining it gain up to `w_uses` (6), so the call sites and imports to change come before more of
  the defining module. Session 12, by the same rule (grid 0.75 / 1.5 / 3, extended to 6 / 10 when
  only its top moved a case): ~8k dev 0.830 -> 0.838 (one case, werkzeug-19, 0 -> 0.57 at 8k), the
  Debian and PyPI tune sets unchanged (10 made the PyPI tune set lose a case whose "use of WebOb" is
  the package's own name); the measured sets unchanged (no task there asks for uses).
A prior scales the result by the kind of file: the package's source first, then code under
examples/, scripts/, bench/, docs/ (rarely what a change is about), tests and docs after.

Measured on the dev cases (coverage over budgets 3k-32k) and kept out: a chunk-level weight for
the callers of a name the task writes as code, credit for the definitions of names the best
chunks use (callees), a file score times chunk score instead of their sum, a lower score for a
top file's chunks with no hit of their own, credit for a method whose class the task names, credit to the modules the best test files import.

Measured later (8k coverage on the 60 dev cases, in-sample 0.811 without them) and not kept:
the import graph as a prior for files many others import (a file's score times 1 + 0.15 x its
log share of the most-imported file's importers: 0.799; never chosen held out); a lower prior
for `__init__.py` and compat shims (0.6: 0.796); a task word equal to a module's stem even when a stop word ("test"
-> test.py; 0.2: 0.815, 0.5: 0.799), a file's share of the task's rare words (0.3: 0.811, 0.6:
0.806), lifting a taken method's class header, lifting a top file's unmatched chunks (0.5:
0.785). A plain task word equal to a defined name (`plain_word_symbol`) changes no case: in 21
of the 60 tasks one is, and its file is a gold file in 3. Each moves one or two cases: the 60
cases cannot tell these apart from noise (one case is 0.017 of the mean).

Measured on the Debian tune split (8k / 32k from 0.618 / 0.770 with the names spelled out) and
not kept: a lower prior for code files in a language other than the one the task names
("Python 3.12" -> .py; 0.5: 0.622 / 0.775, one case); code under examples/, tools/, scripts/ at
full weight (prior_aux 1.0: tune 0.653 / 0.791, two cases up, but dev 0.815 -> 0.778: its
examples/, scripts/ and docs/conf.py crowd out the package); the callers of the names the three
best first-pass chunks define, as chunks (0.5: 0.625) or as files (0.3: 0.632 by case, 0.613 by
package, 32k 0.760; a case up, a case down); chunks matching the task's two-word phrases (and
word-stop-word-word ones, "method not allowed") as FTS5 phrase queries (0.15-0.5: tune 8k 0.630-0.634,
32k 0.763-0.770, but dev 0.815 -> 0.801: werkzeug loses a case at every weight); a word and the
number after it joined as one query term ("PKCS#12" -> pkcs12; no case moved on either set);
`w_spelled` 0.5 (0.610); more weight for a plain task word that is a
defined name (`plain_word_symbol` 0.5: 0.605; 0.0: 32k 0.763); a lower prior for test files
(0.25 or 0.35: 8k 0.618, 32k 0.774, one case; dev unchanged).

Measured later on both sets (`bench/context_heldout/run.py --split tune --params ...` and the dev
cases; from tune 0.665 / 0.788 and dev 0.815 / 0.954 at 8k / 32k, and from means over 4k-32k of
tune 0.663, dev 0.835) and not kept; none lifts tune without costing dev, and most move one or
two tune cases whose only gold line sits just past a piece the fill reaches or not:
- file-level evidence: `w_file` 0.5 / 1.0 (tune 0.641 / 0.619 at 8k, dev 0.803 / 0.799); the
  file score (path and names) lent only to chunks with a hit of their own (0.25 / 0.5: tune 0.643,
  dev 0.803 / 0.810); a whole-file BM25 over the body (the file-bm25 baseline's, computed for the
  experiment) in the file part (0.3: tune 0.617 / 0.788, dev 0.798 / 0.961) or lent to chunks
  with a hit (0.5: tune 0.665 / 0.774, dev 0.793 / 0.963). Each ranks the main gold file first
  more often (16 -> 19 of 42 tune cases, gold files' MRR 0.431 -> 0.455) but lifts every chunk
  of the top files, which then take the room of the next files' best chunks;
- the task's adjacent words joined as path words (`data flow` -> `data_flow.py`): no case moved;
- graph neighbours: files importing or imported by the five best files made candidates (none
  was missing: no case moved); `w_import_nb` 0.22 / 0.3 / 0.5 (tune 8k 0.666 / 0.679 / 0.678,
  32k 0.788 / 0.764 / 0.769; dev 8k 0.815 / 0.815 / 0.789; over 4k-32k 0.663 and 0.833 at 0.3);
  chunks of a top file that its best chunk calls or that call it (0.2 of that chunk's score, top
  3 files: tune 4k-32k mean 0.659, dev 0.838; 0.5, top 10: 0.655 / 0.815); chunks elsewhere
  defining a name (at most 3 definitions) that the three best first-pass chunks use, 0.3 of
  its specificity (tune 8k 0.649, mean 0.661; dev 0.815, mean 0.837);
- diversity: each file's best chunk at x1.3 (tune mean 0.638, dev 0.825); at x0.85 (0.649,
  0.824): the depth-vs-breadth balance sits at its best on both sets;
- 20 feedback words (dev 8k 0.845, mean 0.846; tune 8k 0.640, mean 0.660), 3 or 10 feedback
  chunks (tune mean 0.660 / 0.662, dev 0.821 / 0.821); chunks with no hit of their own at 0.7 of
  their file part (8k unchanged, tune 32k 0.771); the file header lift at 0.7 (tune 0.635);
- process words as stop words (patch, upstream, issue, bug, cve, revision, ...: tune mean 0.661,
  dev unchanged); a 0.5 prior for non-Python code when the task says Python (tune 8k 0.670,
  32k 0.792, one case; dev unchanged); the file prior applied as its square root to a chunk's
  own evidence (tune mean 0.661, dev 0.832);
- `prior_aux` 1.0 / 0.8: tune 8k 0.701 / 0.677, 32k 0.808 / 0.800, mean 0.695 / 0.680 (two
  cases whose gold is under tools/ or examples/), dev 8k 0.778 / 0.803 (scripts/, bench/,
  examples/ crowd out three cases): a base rate the two sets disagree on, not a ranking signal.

Measured after those (`bench/context_heldout/sweep.py`; dev / tune at 8k, 32k and the mean over
6k-10k "~8k", from dev 0.815 / 0.954 / 0.808, tune 0.665 / 0.788 / 0.651) and not kept:
- BM25 column weights (path, names, body) of chunks 1/1/1, 1.5/2/1, 1.5/5/1, 3/3/1, 0.75/3/1:
  dev ~8k 0.787-0.809, tune ~8k 0.632-0.647; of files 1/1/1, 3/4/1, 5/2/1: dev ~8k 0.806 /
  0.808 / 0.805, tune 0.656 / 0.646 / 0.651 (1/1/1: tune 8k 0.653, 6k-7k up one case each);
- candidates: `chunk_limit` 200 / 800 (dev ~8k 0.792 / 0.808, tune 0.651 / 0.639), `file_limit`
  30 / 150 (dev unchanged, tune ~8k 0.651 / 0.654, 32k 0.771 / 0.788); 3 feedback chunks and 5
  words (dev ~8k 0.766, tune 0.626);
- query terms held by more than 5% / 10% / 20% of the chunks dropped (with 8+ terms or always):
  dev ~8k 0.658-0.801, tune 0.464-0.582: BM25's IDF already weighs them, and they carry the match;
- code under examples/, tools/, scripts/ ... at full prior (or 0.8) when the task names that
  folder ("execute examples with Python 3"): tune 32k 0.788 -> 0.811 / 0.800 (one case, a
  shebang line of two examples), 8k and every dev figure unchanged;
- abbreviations of task words among path words (`ln` for "lightning": a path word of 2-4 letters
  that starts a task word and is a subsequence of it): 472 such pairs in the 60 + 42 tasks, 5 of
  them at a gold file; not tried as a signal.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from server.context.imports import import_graph
from server.context.index import ChunkRow, Snapshot
from server.context.spelled import spelled_names
from server.context.terms import (
    STOPWORDS,
    clean_task,
    code_marked,
    identifiers,
    is_code_like,
    query_terms,
    split_identifier,
    text_terms,
    usage_targets,
)

__all__ = ["RankParams", "Ranked", "mentioned_names", "rank"]

_CODE = frozenset({
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".go", ".rs", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".java", ".kt", ".rb", ".php", ".cs", ".swift", ".scala", ".sh", ".lua", ".pyx",
    ".vue", ".svelte", ".sql",
})
_CONFIG = frozenset({".toml", ".cfg", ".ini", ".yaml", ".yml", ".json", ".mod"})
_TEST_PART = re.compile(r"(^|/)(tests?|testing|testsuite|__tests__|spec|specs)(/|$)")
_AUX_PART = re.compile(r"(^|/)(examples?|samples?|scripts|bench|benchmarks?|docs?|tools|ext)(/|$)")
_TEST_NAME = re.compile(r"(^test_.*|.*_test|.*\.test|.*\.spec|conftest)$")


@dataclass(frozen=True)
class RankParams:
    chunk_weights: tuple[float, float, float] = (1.5, 3.0, 1.0)  # path, names, body
    file_weights: tuple[float, float, float] = (3.0, 2.0, 1.0)
    w_chunk: float = 1.5
    w_file: float = 0.25
    w_file_chunks: float = 1.0
    w_path: float = 0.6
    w_symbol: float = 1.5
    w_symbol_file: float = 0.4
    w_reference_file: float = 0.4  # a file using a name the task writes as code
    w_tested: float = 0.3  # a source file gains this share of its test file's score (test_tags.py -> tags.py)
    plain_word_symbol: float = 0.2
    prior_test: float = 0.5
    prior_aux: float = 0.6  # code under examples/, scripts/, bench/, docs/, tools/, ext/
    prior_doc: float = 0.25
    prior_config: float = 0.6
    prior_other: float = 0.5
    w_feedback: float = 1.5  # chunks matching the words the best first-pass chunks share (RM3-style)
    feedback_chunks: int = 5
    feedback_terms: int = 20
    chunk_limit: int = 400
    file_limit: int = 60
    w_import_nb: float = 0.3  # a file gains this share of the best score among files it imports or is imported by
    w_spelled: float = 1.0  # chunks defining a name the task spells out in words (`create_zone`: "zone creation")
    w_uses: float = 6.0  # chunks using a name whose uses the task is about ("replace uses of `url_decode`")
    w_size_file: float = 0.4  # a longer file's part of the score counts up to this share more (BugLocator's length prior)
    # A file outside the folder the caller named as the workspace (a package of a monorepo) counts
    # this share of its score. Not measured: every case of the evaluation sets works at the root.
    outside_focus: float = 0.5
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranked:
    """A chunk with its score and the signal that put it highest."""

    chunk: ChunkRow
    score: float
    reason: str  # symbol | ranked


def file_prior(path: str, params: RankParams) -> float:
    kind = _file_kind(path)
    if kind == "code":
        return 1.0
    return float(getattr(params, f"prior_{kind}"))


@functools.lru_cache(maxsize=100_000)
def _file_kind(path: str) -> str:
    pure = PurePosixPath(path)
    suffix = pure.suffix.lower()
    if suffix in _CODE:
        if _TEST_PART.search(str(pure.parent)) or _TEST_NAME.match(pure.stem):
            return "test"
        return "aux" if _AUX_PART.search(str(pure.parent)) else "code"
    if suffix in _CONFIG:
        return "config"
    if suffix in (".md", ".rst", ".txt", ".adoc", "") or pure.name.isupper():
        return "doc"
    return "other"


def mentioned_names(text: str) -> list[str]:
    """Names a text mentions that could be code: identifiers with `_`, inner capitals or digits,
    dotted paths' parts, and plain words of 3+ letters (the index decides which are defined)."""
    names: dict[str, None] = {}
    marked = code_marked(text)
    for name in identifiers(text):
        if len(name) >= 3 and (name in marked or name.lower() not in STOPWORDS):
            names.setdefault(name, None)
    return list(names)


def _specificity(n_definitions: int) -> float:
    return 1.0 / (1.0 + math.log2(n_definitions)) if n_definitions else 0.0


def rank(snapshot: Snapshot, task: str, named_texts: Sequence[str] = (), params: RankParams | None = None,
         skip_docs: Iterable[int] = (), limit: int | None = None, focus: str = "") -> list[Ranked]:
    """Every chunk worth showing for `task` (the best `limit` of them), best first (secret chunks
    left out). Ties go to the lower file id, then the earlier line. `focus`: the folder the caller's
    workspace is, in a larger repository ("" or ending in "/"); a file outside it counts
    `params.outside_focus` of its score (the other packages of a monorepo stay reachable)."""
    params = params or RankParams()
    task = clean_task(task)
    terms = query_terms(task)
    chunk_hits = dict(snapshot.rank_chunks(terms, params.chunk_weights, params.chunk_limit))
    file_hits = dict(snapshot.rank_files(terms, params.file_weights, params.file_limit))
    best_chunk = max(chunk_hits.values(), default=1.0)
    feedback = _feedback(snapshot, chunk_hits, terms, params) if params.w_feedback else {}
    best_file = max(file_hits.values(), default=1.0)

    # Symbol graph: names in the task count fully; names the caller's files mention count less.
    wanted: dict[str, float] = {}
    marked = code_marked(task)
    for name in mentioned_names(task):
        wanted[name] = 1.0 if is_code_like(name, marked) else params.plain_word_symbol
    for text in named_texts:
        for name in mentioned_names(text):
            if is_code_like(name):
                wanted.setdefault(name, 0.15)
    definitions = snapshot.definitions(wanted)
    symbol_chunk: dict[int, float] = {}
    symbol_file: dict[int, float] = {}
    for name, places in definitions.items():
        weight = wanted[name] * _specificity(len(places))
        for chunk_id, doc in places:
            symbol_chunk[chunk_id] = symbol_chunk.get(chunk_id, 0.0) + weight
            symbol_file[doc] = symbol_file.get(doc, 0.0) + weight
    # References: chunks using a compound name the task writes as code, and their files.
    reference = _references(snapshot, [n for n, w in wanted.items() if w >= 1.0 and is_code_like(n)], symbol_chunk,
                            params) \
        if params.w_reference_file else {}
    reference_file = _best_per_doc(snapshot, reference) if reference else {}
    spelled = _spelled(snapshot, terms) if params.w_spelled else {}
    targets = usage_targets(task) if params.w_uses else []
    uses = _references(snapshot, targets, symbol_chunk, params) if targets else {}
    best_symbol = max([1.0, *symbol_chunk.values()])
    best_symbol_file = max([1.0, *symbol_file.values()])
    path_score = _path_scores(snapshot, terms)
    # A file's chunks vouch for it: its best chunk, plus half its second, a quarter its third.
    chunk_sums: dict[int, list[float]] = {}

    skip = set(skip_docs)
    docs = [d for d in (set(file_hits) | symbol_file.keys() | path_score.keys() | reference_file.keys())
            if d in snapshot.docs and d not in skip]
    chunk_docs = set()
    for chunk_id in list(chunk_hits) + list(symbol_chunk) + list(feedback) + list(spelled) + list(uses):
        chunk_docs.add(chunk_id)
    rows_by_doc = snapshot.chunks_of(set(docs) | _docs_of(snapshot, chunk_docs, skip))
    for doc, rows in rows_by_doc.items():
        top = sorted((chunk_hits.get(r.id, 0.0) for r in rows), reverse=True)[:3]
        chunk_sums[doc] = top
    file_chunks = {d: sum(v * w for v, w in zip(top, (1.0, 0.5, 0.25), strict=False)) for d, top in chunk_sums.items()}
    best_file_chunks = max(file_chunks.values(), default=0.0) or 1.0
    best_path = max(path_score.values(), default=0.0) or 1.0
    file_parts: dict[int, float] = {}
    for doc in rows_by_doc:
        if doc not in snapshot.docs or doc in skip:
            continue
        file_part = params.w_file * file_hits.get(doc, 0.0) / best_file
        file_part += params.w_file_chunks * file_chunks.get(doc, 0.0) / best_file_chunks
        file_part += params.w_path * path_score.get(doc, 0.0) / best_path
        file_part += params.w_symbol_file * symbol_file.get(doc, 0.0) / best_symbol_file
        file_part += params.w_reference_file * reference_file.get(doc, 0.0)
        file_parts[doc] = file_part
    if params.w_tested:
        _tested_gain(snapshot, file_parts, params.w_tested)
    if params.w_import_nb:
        _import_gain(snapshot, file_parts, params.w_import_nb)
    # Sort keys as plain tuples (compared in C; the unique chunk id settles any tie before the row
    # would be compared), and a `Ranked` only for those returned: most candidates of a large
    # repository are chunks with no hit of their own, past the limit.
    keyed: list[tuple[float, int, int, int, ChunkRow, str]] = []
    longest = (max((math.log1p(snapshot.docs[d].n_lines) for d in file_parts), default=1.0) or 1.0
               if params.w_size_file else 1.0)
    for doc, rows in rows_by_doc.items():
        if doc not in file_parts:
            continue
        path = snapshot.docs[doc].path
        prior = file_prior(path, params) * (params.outside_focus if focus and not path.startswith(focus) else 1.0)
        file_part = file_parts[doc]
        if params.w_size_file:
            file_part *= 1.0 + params.w_size_file * math.log1p(snapshot.docs[doc].n_lines) / longest
        plain = prior * file_part  # the score of a chunk with no hit of its own
        for row in rows:
            if row.secret:
                continue
            expanded = (params.w_feedback * feedback.get(row.id, 0.0) + params.w_spelled * spelled.get(row.id, 0.0)
                        + params.w_uses * uses.get(row.id, 0.0))
            if row.id not in chunk_hits and row.id not in symbol_chunk and not expanded:
                if plain > 0:
                    keyed.append((-plain, doc, row.start_line, row.id, row, "ranked"))
                continue
            lexical = params.w_chunk * chunk_hits.get(row.id, 0.0) / best_chunk
            symbol = params.w_symbol * symbol_chunk.get(row.id, 0.0) / best_symbol
            score = prior * (lexical + symbol + expanded + file_part)
            if score > 0:
                keyed.append((-score, doc, row.start_line, row.id, row, "symbol" if symbol > lexical else "ranked"))
    keyed.sort()
    return [Ranked(row, -negative, reason) for negative, _, _, _, row, reason in keyed[:limit]]


def _spelled(snapshot: Snapshot, terms: Sequence[str]) -> dict[int, float]:
    """{chunk: 0..1} for the chunks defining a name the task spells out in words
    (`server.context.spelled`), by the name's score."""
    names = spelled_names(snapshot, terms)
    out: dict[int, float] = {}
    for name, places in snapshot.definitions(names).items():
        for chunk_id, _ in places:
            out[chunk_id] = max(out.get(chunk_id, 0.0), names[name])
    best = max(out.values(), default=0.0) or 1.0
    return {c: v / best for c, v in out.items()}


def _tested_gain(snapshot: Snapshot, file_parts: dict[int, float], share: float) -> None:
    """A source file gains `share` of the score of its test file (`tests/test_tags.py` -> `tags.py`)."""
    sources: dict[str, list[int]] = {}
    tests: list[tuple[str, float]] = []
    for doc, value in file_parts.items():
        path = snapshot.docs[doc].path
        kind = _file_kind(path)
        if kind == "code":
            sources.setdefault(_stem(path), []).append(doc)
        elif kind == "test" and value > 0:
            stem = _stem(path)
            tested = stem[5:] if stem.startswith("test_") else stem[:-5] if stem.endswith("_test") else ""
            if tested:
                tests.append((tested, value))
    gains: dict[int, float] = {}
    for tested, value in tests:
        for target in sources.get(tested, ()):
            gains[target] = max(gains.get(target, 0.0), share * value)
    for doc, gain in gains.items():
        file_parts[doc] += gain


def _import_gain(snapshot: Snapshot, file_parts: dict[int, float], share: float) -> None:
    """A file gains `share` of the best score among the files it imports or is imported by."""
    graph = import_graph(snapshot)
    importers: dict[int, set[int]] = {}
    for doc, targets in graph.items():
        for t in targets:
            importers.setdefault(t, set()).add(doc)
    before = dict(file_parts)
    for doc in file_parts:
        near = (graph.get(doc, set()) | importers.get(doc, set())) & before.keys()
        if near:
            file_parts[doc] += share * max(before[n] for n in near)


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _feedback(snapshot: Snapshot, chunk_hits: dict[int, float], terms: Sequence[str],
              params: RankParams) -> dict[int, float]:
    """Pseudo-relevance feedback (RM3-style): the words the best first-pass chunks of source
    files share, each weighted by its share of each chunk's words, that chunk's score and its
    rarity in the index; every chunk's BM25 on the best `feedback_terms` of those words, scaled
    0..1. A task names the change in its own words; the code it matches names the code around
    the change in the repository's words."""
    top: list[tuple[ChunkRow, float]] = []  # the best chunks of source files (docs' words are noise here)
    for chunk_id, score in sorted(chunk_hits.items(), key=lambda kv: (-kv[1], kv[0])):
        row = snapshot.chunk(chunk_id)
        if row is not None and file_prior(snapshot.docs[row.doc].path, params) == 1.0:
            top.append((row, score))
            if len(top) == params.feedback_chunks:
                break
    if not top:
        return {}
    best = top[0][1] or 1.0
    asked = set(terms)
    weight: dict[str, float] = {}
    for row, score in top:
        words = text_terms("\n".join(snapshot.text(row.doc).split("\n")[row.start_line - 1:row.end_line]))
        share = score / best / max(1, len(words))
        for w in words:
            if len(w) > 2 and w not in asked and w not in STOPWORDS and not w.isdigit():
                weight[w] = weight.get(w, 0.0) + share
    rated: list[tuple[float, str]] = []
    for w, v in sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[:params.feedback_terms * 4]:
        held, total = snapshot.chunk_frequency(w)
        if 0 < held and held * 20 < total:  # a word in 5% of chunks or more says nothing
            rated.append((v * math.log(total / held), w))
    rated.sort(key=lambda vw: (-vw[0], vw[1]))
    expansion = [w for _, w in rated[:params.feedback_terms]]
    if not expansion:
        return {}
    hits = snapshot.rank_chunks(expansion, params.chunk_weights, params.chunk_limit)
    top_hit = max((v for _, v in hits), default=0.0) or 1.0
    return {c: v / top_hit for c, v in hits}


def _references(snapshot: Snapshot, names: Sequence[str], defining: dict[int, float],
                params: RankParams) -> dict[int, float]:
    """Chunks that use one of `names` (names the task writes as code, `url_decode`) without
    defining it, scaled 0..1 by their BM25 on those names alone: "replace uses of X" is about X's
    callers."""
    compounds = [t for name in names for t in _compound(name)]
    if not compounds:
        return {}
    hits = snapshot.rank_chunks(compounds, (0.0, 0.0, 1.0), params.chunk_limit)
    hits = [(c, v) for c, v in hits if c not in defining]
    best = max((v for _, v in hits), default=0.0) or 1.0
    return {c: v / best for c, v in hits}


def _compound(name: str) -> list[str]:
    words = split_identifier(name)
    return ["".join(words)] if len(words) > 1 else words


def _best_per_doc(snapshot: Snapshot, values: dict[int, float]) -> dict[int, float]:
    """{doc: best value} of chunk values."""
    out: dict[int, float] = {}
    for chunk_id, value in values.items():
        doc = snapshot.doc_of(chunk_id)
        if doc is not None:
            out[doc] = max(out.get(doc, 0.0), value)
    return out


def _path_scores(snapshot: Snapshot, terms: Sequence[str]) -> dict[int, float]:
    """Query terms found among a file's path words, each weighted by how few paths hold it
    (the file's own name counts double): `fix(tags): ...` points at `tags.py`."""
    wanted = {_plural(t) for t in terms}
    words_of: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
    holders: dict[str, int] = {}
    for doc in snapshot.docs.values():
        stem, dirs = _path_words(doc.path)
        found = (stem | dirs) & wanted
        if found:
            words_of[doc.id] = (stem & wanted, dirs & wanted)
            for w in found:
                holders[w] = holders.get(w, 0) + 1
    n = max(1, len(snapshot.docs))
    out: dict[int, float] = {}
    for doc_id, (in_stem, in_dirs) in words_of.items():
        out[doc_id] = (sum(2 * math.log(1 + n / holders[w]) for w in in_stem)
                       + sum(math.log(1 + n / holders[w]) for w in in_dirs - in_stem))
    return out


@functools.lru_cache(maxsize=100_000)
def _path_words(path: str) -> tuple[frozenset[str], frozenset[str]]:
    pure = PurePosixPath(path)
    stem = {_plural(w) for w in split_identifier(pure.stem)} | {_plural(pure.stem.lower().replace("_", ""))}
    dirs = {_plural(w) for part in pure.parts[:-1] for w in split_identifier(part)}
    return frozenset(stem), frozenset(dirs)


def _plural(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _docs_of(snapshot: Snapshot, chunk_ids: set[int], skip: set[int]) -> set[int]:
    if not chunk_ids:
        return set()
    ids = list(chunk_ids)
    docs: set[int] = set()
    db = snapshot.index.db
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        docs.update(d for (d,) in db.execute(f"SELECT DISTINCT doc FROM chunks WHERE id IN ({','.join('?' * len(part))})", part))
    return docs - skip
