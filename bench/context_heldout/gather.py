"""Gather the held-out context cases from Debian's Python source packages (bookworm, then trixie, sid).

Each case: a patch from a package's `debian/patches/series` (most are upstream commits carried by
Debian), its DEP-3 description as the task, the tree before it (orig tarballs + the earlier
patches of the series) as the workspace, and the lines it changes as the gold, selected by the
context-dev set's own rules plus one rule against Debian's packaging patches (README.md here).
Everything is downloaded once into ~/.cache/pwm-bench/debian (override: $PWM_BENCH_CACHE) and
checked against the sha256 of `Sources`; re-runs are offline.

    python bench/context_heldout/gather.py [--max-cases 250] [--per-package 3] [--jobs 2]

Writes bench/data/context_heldout.jsonl and prints the count left after each filter.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import debsrc  # noqa: E402
from bench_context import _TEST_PATH  # noqa: E402  (the dev set's test-path rule, shared)

OUT = HERE.parent / "data" / "context_heldout.jsonl"
SEED = 20261130
EXCLUDED_SOURCES = {"python-jinja2", "jinja2", "python-werkzeug", "werkzeug", "python-packaging", "packaging"}
EXCLUDED_UPSTREAM = re.compile(r"palletsprojects|github\.com/pallets/|pypa/packaging|packaging\.pypa\.io", re.I)
MAX_DEBIAN_BYTES = 2_000_000
MAX_ORIG_BYTES = 30_000_000
MAX_TREE_FILES = 5_000  # 2.5x the 2,000-file speed repository: keeps the bench's run time sane
BUILD_RULES = 1  # bump when build_case's checks change: its verdicts are cached per patch

# -- the dev set's rules ----------------------------------------------------------------------------
TRAILER = re.compile(
    r"^\s*(signed-off-by|co-authored-by|change-id|reviewed-by|reviewed-on|acked-by|tested-by|reported-by|"
    r"suggested-by|helped-by|cc|fixes|closes|bug|bug-debian|bug-ubuntu|origin|forwarded|author|last-update|"
    r"applied-upstream|gbp-pq|patch-name|x-dgit-\S*)\s*:.*$", re.I | re.M)
REFS = [
    re.compile(r"\b(fix(es|ed)?|close[sd]?|resolve[sd]?|refs?|see)\s*:?\s*(gh-|#)\d+\b", re.I),
    re.compile(r"\(\s*(gh-|#)\d+\s*\)"),
    re.compile(r"(?<![\w&])#\d+\b"),
    re.compile(r"https?://\S*(/issues?/|/pulls?/|/merge_requests/|bugs\.|/bug/|show_bug|/commit/|/compare/)\S*", re.I),
]
EXCLUDED_WORDING = re.compile(
    r"\b(bump\w*|releas\w*|typos?|merg(e|es|ed|ing)|changelog|versions?|versioning|formatting|reformat\w*|"
    r"lint\w*|revert\w*|cherry[- ]?pick\w*|review[- ]comments?)\b", re.I)
# -- the one added rule: Debian's own packaging patches ----------------------------------------------
PACKAGING_WORDING = re.compile(
    r"\b(debian|ubuntu|lintian|dh_\w+|pybuild|autopkgtest|privacy|(network|internet) access|no network|"
    r"without (network|internet)|(inter)?sphinx|setup\.py|setuptools|distutils|pyproject(\.toml)?|"
    r"pkg_resources|vendored|embedded cop(y|ies)|system cop(y|ies)|/usr/(share|lib)\S*)\b", re.I)
PACKAGING_FILE = re.compile(r"^(setup\.py|docs?/.*)$")


def clean(text: str) -> str:
    """The dev set's cleaning: trailers, issue references and issue/PR links removed."""
    text = TRAILER.sub("", text)
    for ref in REFS:
        text = ref.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


def is_python(pkg: debsrc.SourcePackage) -> bool:
    deps = " ".join(pkg.fields.get(k, "") for k in ("Build-Depends", "Build-Depends-Indep", "Build-Depends-Arch"))
    binaries = [b.strip() for b in pkg.fields.get("Binary", "").replace("\n", " ").split(",")]
    return bool(re.search(r"(^|[\s,])(dh-python|python3-all|python3-setuptools)\b", deps)) or any(
        b.startswith("python3-") for b in binaries)


def split_of(package: str) -> str:
    return "tune" if hashlib.sha256(package.encode()).digest()[0] % 2 == 0 else "report"


def judge(name: str, text: str, strip: int) -> tuple[str, str | None, list[str]]:
    """(the first filter the patch fails or "ok", its cleaned description, its gold files), from
    the patch text alone."""
    files = debsrc.patch_files(text, strip)
    if not files:
        return "no diff", None, []
    if any(f.old == "(rename)" for f in files):
        return "renames a file", None, []
    py = [f for f in files if (f.new or f.old or "").endswith(".py") and not _TEST_PATH.search(f.new or f.old or "")]
    if not 1 <= len({f.new or f.old for f in py}) <= 3:
        return "not 1-3 non-test .py files", None, []
    if any(f.old is None or f.new is None or f.old != f.new for f in py):
        return "adds/deletes/renames a .py file", None, []
    gold = sorted({str(f.new) for f in py})
    raw = debsrc.description(text)
    if raw is None:
        return "no description", None, gold
    task = clean(raw)
    if len(task.split()) < 8:
        return "description < 8 words", task, gold
    if EXCLUDED_WORDING.search(task):
        return "excluded wording", task, gold
    if PACKAGING_WORDING.search(task) or PACKAGING_WORDING.search(re.sub(r"[-_]", " ", name)) or all(
            PACKAGING_FILE.match(g) for g in gold) or re.search(r"^Forwarded:\s*not[- ]needed", text, re.I | re.M):
        return "Debian packaging", task, gold
    return "ok", task, gold


def build_case(pkg: debsrc.SourcePackage, debian: dict[str, bytes], order: list[tuple[str, int]], index: int,
               origs: list[tuple[str, Path]], task: str, work: Path) -> tuple[str, dict[str, object] | None]:
    key = hashlib.sha256(json.dumps([BUILD_RULES, pkg.files[str(pkg.debian_tarball())][0],
                                     [pkg.files[n][0] for n, _ in origs], index, task]).encode()).hexdigest()
    memo = debsrc.CACHE / "verdicts" / f"{key}.json"
    if memo.is_file():
        verdict, case = json.loads(memo.read_text())
        return verdict, case
    verdict, case = _build_case(pkg, debian, order, index, origs, task, work)
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(json.dumps([verdict, case]))
    return verdict, case


def _build_case(pkg: debsrc.SourcePackage, debian: dict[str, bytes], order: list[tuple[str, int]], index: int,
                origs: list[tuple[str, Path]], task: str, work: Path) -> tuple[str, dict[str, object] | None]:
    patch, strip = order[index]
    repo = work / f"{pkg.name}-{index}"
    try:
        debsrc.build_parent(origs, debian, order, index, repo)
    except Exception:
        return "an earlier patch does not apply", None
    tree = debsrc.tree_of(repo)
    listing = [p for p in debsrc.git(repo, "ls-files", "-z").split("\0") if p]
    n_py = sum(1 for p in listing if p.endswith(".py"))
    if n_py < 30:
        return "parent tree < 30 .py files", None
    if len(listing) > MAX_TREE_FILES:
        return f"parent tree > {MAX_TREE_FILES} files", None
    try:
        status, lines = debsrc.apply_and_diff(repo, debian[f"debian/patches/{patch}"], strip)
    except Exception:
        return "patch does not apply", None
    gold = sorted(p for p in status if p.endswith(".py") and not _TEST_PATH.search(p))
    if not 1 <= len(gold) <= 3 or any(status[p] != "M" for p in gold):
        return "git: not 1-3 modified non-test .py files", None
    if any(not lines.get(p) for p in gold):
        return "git: a gold file without changed lines", None
    tar = pkg.debian_tarball() or ""
    return "ok", {
        "id": f"{pkg.name}:{patch}", "package": pkg.name, "version": pkg.version, "suite": pkg.suite,
        "directory": pkg.directory, "patch": patch,
        "task": task, "gold": gold, "gold_lines": {p: lines[p] for p in gold}, "n_py": n_py,
        "n_files": len(listing),
        "orig": [{"name": n, "sha256": pkg.files[n][0]} for n, _ in origs],
        "debian": {"name": tar, "sha256": pkg.files[tar][0]}, "split": split_of(pkg.name), "tree": tree,
    }


def main() -> None:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-cases", type=int, default=250)
    parser.add_argument("--per-package", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="packages built at once (downloads use 8 threads)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    client = httpx.Client(timeout=120, follow_redirects=True)
    def load(pkg: debsrc.SourcePackage) -> tuple[debsrc.SourcePackage, dict[str, bytes] | None]:
        try:
            return pkg, debsrc.read_debian(debsrc.fetch(client, pkg, str(pkg.debian_tarball())))
        except FileNotFoundError:
            return pkg, None
        except Exception as exc:
            print(f"  {pkg.name}: {exc}", file=sys.stderr)
            return pkg, None

    # A package is taken from the first suite where the mirror serves its debian tarball and its
    # orig tarballs (readable formats, <= 30 MB in all) and its series has an eligible patch.
    eligible: dict[str, list[tuple[int, str]]] = {}
    by_name: dict[str, tuple[debsrc.SourcePackage, dict[str, bytes], list[tuple[str, int]]]] = {}
    patch_counts: Counter[str] = Counter()
    for suite in debsrc.SUITES:
        index = debsrc.CACHE / f"{suite}-Sources.xz"
        if not index.is_file():
            index.parent.mkdir(parents=True, exist_ok=True)
            resp = client.get(f"{debsrc.MIRROR}/dists/{suite}/main/source/Sources.xz")
            resp.raise_for_status()
            index.write_bytes(resp.content)
        sources = debsrc.parse_sources(index, suite)
        counts[f"{suite}: source packages in main"] = len(sources)
        cands = [p for p in sources if is_python(p)]
        counts[f"{suite}: python source packages"] = len(cands)
        cands = [p for p in cands if p.name not in EXCLUDED_SOURCES and not EXCLUDED_UPSTREAM.search(
            " ".join(p.fields.get(k, "") for k in ("Homepage", "Vcs-Browser", "Vcs-Git")))]
        counts[f"{suite}: ... not jinja/werkzeug/packaging or pallets/*"] = len(cands)
        cands = [p for p in cands if p.name not in by_name]
        counts[f"{suite}: ... not taken from an earlier suite"] = len(cands)
        cands = [p for p in cands if (t := p.debian_tarball()) and p.files[t][1] <= MAX_DEBIAN_BYTES and p.orig_tarballs()]
        counts[f"{suite}: ... with a debian.tar (3.0 quilt) <= 2 MB"] = len(cands)
        with ThreadPoolExecutor(8) as pool:
            got = [(p, d) for p, d in pool.map(load, cands) if d is not None]
        counts[f"{suite}: ... whose debian.tar the mirror serves"] = len(got)
        kept = []
        for pkg, debian in got:
            meta = debian.get("debian/upstream/metadata", b"").decode("utf-8", "replace")
            if EXCLUDED_UPSTREAM.search(meta):
                continue
            order = debsrc.series(debian)
            elig: list[tuple[int, str]] = []
            for i, (patch, strip) in enumerate(order):
                raw = debian.get(f"debian/patches/{patch}")
                patch_counts[f"{suite}: patches in series"] += 1
                if raw is None:
                    patch_counts[f"{suite}: x listed but missing"] += 1
                    continue
                verdict, task, _ = judge(patch, raw.decode("utf-8", "replace"), strip)
                patch_counts[f"{suite}: " + ("x " + verdict if verdict != "ok" else "eligible")] += 1
                if verdict == "ok" and task:
                    elig.append((i, task))
            if elig:
                kept.append((pkg, debian, order, elig))
        counts[f"{suite}: ... upstream metadata not pallets, an eligible patch"] = len(kept)
        kept = [k for k in kept if sum(k[0].files[t][1] for t in k[0].orig_tarballs()) <= MAX_ORIG_BYTES
                and all(re.search(r"\.tar\.(gz|xz|bz2)$", t) for t in k[0].orig_tarballs())]
        counts[f"{suite}: ... orig tarballs gz/xz/bz2, <= 30 MB"] = len(kept)
        with ThreadPoolExecutor(8) as pool:
            ok = list(pool.map(lambda k: all(debsrc.served(client, k[0], t) for t in k[0].orig_tarballs()), kept))
        kept = [k for k, good in zip(kept, ok, strict=True) if good]
        counts[f"{suite}: ... orig tarballs served: packages taken"] = len(kept)
        for pkg, debian, order, elig in kept:
            by_name[pkg.name] = (pkg, debian, order)
            eligible[pkg.name] = elig
    counts["packages taken (all suites)"] = len(eligible)

    rng = random.Random(SEED)
    names = sorted(eligible)
    rng.shuffle(names)
    plan: list[tuple[str, list[tuple[int, str]]]] = []
    for name in names:
        picks = list(eligible[name])
        random.Random(f"{SEED}:{name}").shuffle(picks)
        plan.append((name, sorted(picks[:args.per_package])))

    case_counts: Counter[str] = Counter()

    def run(item: tuple[str, list[tuple[int, str]]]) -> list[dict[str, object]]:
        name, picks = item
        pkg, debian, order = by_name[name]
        tars = pkg.orig_tarballs()
        try:
            origs = [(t, debsrc.fetch(client, pkg, t)) for t in tars]
        except Exception as exc:
            print(f"  {name}: {exc}", file=sys.stderr)
            case_counts["x orig download failed"] += len(picks)
            return []
        out = []
        with tempfile.TemporaryDirectory(prefix="pwm-heldout-") as tmp:
            for i, task in picks:
                verdict, case = build_case(pkg, debian, order, i, origs, task, Path(tmp))
                case_counts["x " + verdict if verdict != "ok" else "cases"] += 1
                if case:
                    out.append(case)
        return out

    cases: list[dict[str, object]] = []
    with ThreadPoolExecutor(args.jobs) as pool:
        step = 8  # packages per round; fixed, so --jobs does not change which are tried
        for start in range(0, len(plan), step):
            for got in pool.map(run, plan[start:start + step]):
                cases.extend(got)
            print(f"  {start + step} packages tried, {len(cases)} cases", file=sys.stderr)
            if len(cases) >= args.max_cases:
                break
    cases.sort(key=lambda c: str(c["id"]))
    Path(args.out).write_text("".join(json.dumps(c, sort_keys=False) + "\n" for c in cases))

    print("packages:")
    for k, v in counts.items():
        print(f"  {k:50s} {v:6d}")
    print("patches:")
    for k, v in patch_counts.most_common():
        print(f"  {k:50s} {v:6d}")
    print(f"cases (packages tried in seeded order, at most {args.per_package} patches each, "
          f"until >= {args.max_cases} cases):")
    for k, v in case_counts.most_common():
        print(f"  {k:50s} {v:6d}")
    packages = Counter(str(c["package"]) for c in cases)
    splits = Counter(str(c["split"]) for c in cases)
    print(f"wrote {len(cases)} cases from {len(packages)} packages to {args.out}; split {dict(splits)}")


if __name__ == "__main__":
    main()
