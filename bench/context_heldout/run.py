"""Changed-line coverage on the held-out Debian cases (bench/data/context_heldout.jsonl): ours,
chunk-level BM25 and whole-file BM25 (bench_context's own functions) at each budget, in one run.

Each case is rebuilt from the download cache (gather.py fills it; a missing file is fetched from
the Debian mirror and checked against the case's sha256) as a git repository with one commit of
the parent tree, whose tree hash must equal the case's. A case scores 0 for a method whose
selection's tokens (reported, or characters / 4 for an item without them) exceed the budget by
more than 10%, as score.py does.

Printed per split: the case mean and the package-weighted mean (each package's cases averaged
first) per method and budget, ours / chunk-bm25, and a bootstrap 90% interval over packages
(2,000 resamples, fixed seed) of the package-weighted means and of the ratio.

    python bench/context_heldout/run.py [--split tune|report|pypi|pypi-tune|npm|npm-tune|all] [--budgets 8000,32000]
                                        [--jobs 2] [--work DIR] [--explain] [--only ours,...]
                                        [--params '{"w_file": 0.5}']

`--explain` prints one line per case, and only for the tuning splits (tune, pypi-tune, npm-tune):
the report splits (report, pypi, npm) are for the final measurement, and their cases are never
shown one by one. The PyPI and npm sets are read with `--data` (bench/data/context_pypi.jsonl,
context_npm.jsonl, and their `_tune` files). With it, each gold file's rank in
our ranking (files in the order of their best chunk) is printed too, a count of the main gold
file's rank buckets, and how much of our coverage at the first budget is lost in gold files the
selection reached and in those it did not reach. `--params` sets ranking and selection knobs
(`RankParams` / `SelectParams` fields, as `bench_context.loro_params` reads them) for ours, to
measure a variant without editing the defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import debsrc  # noqa: E402
from bench_context import JS_SUFFIXES, Items, _loss_split, baseline, coverage, loro_params, ours  # noqa: E402

from server.context import close_indexes  # noqa: E402

DATA = HERE.parent / "data" / "context_heldout.jsonl"
METHODS = ("ours", "chunk-bm25", "file-bm25")


def cached_file(case: dict[str, Any], name: str, sha256: str) -> Path:
    path = debsrc.CACHE / "pool" / str(case["package"]) / name
    if not path.is_file():
        import httpx

        resp = httpx.get(f"{debsrc.MIRROR}/{case['directory']}/{name}", timeout=120, follow_redirects=True)
        resp.raise_for_status()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(resp.content)
    if debsrc.sha256_of(path) != sha256:
        raise SystemExit(f"{path}: sha256 differs from the case's {sha256}")
    return path


def materialize(case: dict[str, Any], work: Path) -> Path:
    """The case's parent tree as a git repository under `work` (reused when its tree matches):
    a Debian case's orig tarballs and earlier patches, a PyPI case's sdist (`pypi_gather.py`) or an
    npm case's tarball (`npm_gather.py`)."""
    ws = work / "ws" / hashlib.sha1(str(case["id"]).encode()).hexdigest()[:16]
    if ws.exists():
        try:
            if debsrc.tree_of(ws) == case["tree"]:
                return ws
        except Exception:
            pass
        shutil.rmtree(ws)
    if "sdist" in case:
        import httpx
        import pypi_gather
        import pypisrc

        sdist = pypisrc.Sdist(str(case["a"]), case["sdist"]["filename"], case["sdist"]["url"],
                              case["sdist"]["sha256"], 0)
        with httpx.Client() as client:
            pypi_gather.build_repo(pypisrc.download(client, sdist), ws)
        if debsrc.tree_of(ws) != case["tree"]:
            raise SystemExit(f"{case['id']}: rebuilt tree differs from the recorded one")
        return ws
    if "tarball" in case:
        import httpx
        import npmsrc

        tar = case["tarball"]
        tarball = npmsrc.Tarball(str(case["package"]), str(case["a"]), tar["filename"], tar["url"],
                                 tar.get("integrity", ""), tar.get("sha1", ""))
        with httpx.Client() as client:
            npmsrc.build_repo(npmsrc.download(client, tarball), ws)
        if debsrc.tree_of(ws) != case["tree"]:
            raise SystemExit(f"{case['id']}: rebuilt tree differs from the recorded one")
        return ws
    debian = debsrc.read_debian(cached_file(case, case["debian"]["name"], case["debian"]["sha256"]))
    order = debsrc.series(debian)
    index = [p for p, _ in order].index(case["patch"])
    origs = [(o["name"], cached_file(case, o["name"], o["sha256"])) for o in case["orig"]]
    debsrc.build_parent(origs, debian, order, index, ws)
    if debsrc.tree_of(ws) != case["tree"]:
        raise SystemExit(f"{case['id']}: rebuilt parent tree differs from the recorded one")
    return ws


def _tokens(ws: Path, items: Items) -> float:
    total = 0.0
    for item in items:
        if isinstance(item.get("tokens"), int | float):
            total += float(item["tokens"])  # type: ignore[arg-type]
            continue
        text = (ws / str(item["path"])).read_text(errors="replace").split("\n")
        a, b = int(item["start_line"]), int(item["end_line"])  # type: ignore[call-overload]
        total += len("".join(line + "\n" for line in text[a - 1:b])) // 4
    return total


def gold_ranks(ws: Path, cache: Path, task: str, gold: list[str], params: Any) -> dict[str, int | None]:
    """Each gold file's place among the files of our ranking, in the order of their best chunk."""
    from server.context.rank import rank
    from server.context.request import repository_root
    from server.context.service import ContextOptions, _open

    index, _ = _open(repository_root(ws, "workspace"), ContextOptions(cache))
    snapshot = index.snapshot(None)
    order: dict[str, int] = {}
    for r in rank(snapshot, task, (), params.rank if params else None, limit=5000):
        order.setdefault(snapshot.docs[r.chunk.doc].path, len(order) + 1)
    return {p: order.get(p) for p in gold}


def run_case(job: tuple[dict[str, Any], str, list[int], list[str], str, bool]) -> dict[str, Any]:
    """{id, package, split, cov: {method: {budget: coverage}}} for one case."""
    case, work, budgets, methods, knobs, explain = job
    params = loro_params(json.loads(knobs)) if knobs else None
    t = time.perf_counter()
    ws = materialize(case, Path(work))
    build = time.perf_counter() - t
    cache = Path(work) / "cache"  # one index file per repository: the two processes never share one
    task = str(case["task"])
    suffixes = JS_SUFFIXES if "tarball" in case else (".py",)  # the baselines read the gold's language
    run: dict[str, Callable[[], dict[int, Items]]] = {
        "ours": lambda: ours(ws, task, budgets, cache, params),
        "chunk-bm25": lambda: baseline(ws, task, budgets, whole_files=False, suffixes=suffixes),
        "file-bm25": lambda: baseline(ws, task, budgets, whole_files=True, suffixes=suffixes),
    }
    cov: dict[str, dict[int, float]] = {}
    secs: dict[str, float] = {}
    losses = (0.0, 0.0)
    for name in methods:
        t = time.perf_counter()
        got = run[name]()
        secs[name] = time.perf_counter() - t
        cov[name] = {}
        for b in budgets:
            ranges = [(str(i["path"]), int(i["start_line"]), int(i["end_line"])) for i in got[b]]  # type: ignore[call-overload]
            over = _tokens(ws, got[b]) > b * 1.1
            cov[name][b] = 0.0 if over or not got[b] else coverage(case["gold_lines"], ranges)
            if name == "ours" and b == budgets[0]:
                losses = _loss_split(case["gold_lines"], ranges)
    ranks = gold_ranks(ws, cache, task, list(case["gold"]), params) if explain and "ours" in methods else {}
    close_indexes()
    return {"id": case["id"], "package": case["package"], "split": case["split"], "cov": cov,
            "secs": {"rebuild": build, **secs}, "ranks": ranks, "losses": losses}


def package_mean(rows: list[dict[str, Any]], method: str, budget: int) -> tuple[float, dict[str, float]]:
    per: dict[str, list[float]] = {}
    for r in rows:
        per.setdefault(r["package"], []).append(r["cov"][method][budget])
    means = {p: statistics.mean(v) for p, v in per.items()}
    return statistics.mean(means.values()), means


def bootstrap(means: dict[str, dict[str, float]], method: str, base: str, reps: int = 2000) -> dict[str, tuple[float, float]]:
    """90% intervals over packages of the package-weighted means of `method`, `base` and their ratio."""
    rng = random.Random(20261130)
    pkgs = sorted(means[method])
    got: dict[str, list[float]] = {method: [], base: [], "ratio": []}
    for _ in range(reps):
        sample = [rng.choice(pkgs) for _ in pkgs]
        m = statistics.mean(means[method][p] for p in sample)
        b = statistics.mean(means[base][p] for p in sample)
        got[method].append(m)
        got[base].append(b)
        got["ratio"].append(m / b if b else float("inf"))
    out = {}
    for k, v in got.items():
        v.sort()
        out[k] = (v[int(0.05 * reps)], v[int(0.95 * reps) - 1])
    return out


def report(rows: list[dict[str, Any]], split: str, budgets: list[int], methods: list[str]) -> None:
    packages = {r["package"] for r in rows}
    print(f"\n[{split}] {len(rows)} cases from {len(packages)} packages")
    print(f"  {'method':12s}" + "".join(f"{f'@{b // 1000}k cases':>14s}{f'@{b // 1000}k pkgs':>13s}" for b in budgets))
    for m in methods:
        line = f"  {m:12s}"
        for b in budgets:
            line += f"{statistics.mean(r['cov'][m][b] for r in rows):14.3f}{package_mean(rows, m, b)[0]:13.3f}"
        print(line)
    if "ours" in methods and "chunk-bm25" in methods:
        for b in budgets:
            means = {m: package_mean(rows, m, b)[1] for m in ("ours", "chunk-bm25")}
            ci = bootstrap(means, "ours", "chunk-bm25")
            ours_c = statistics.mean(r["cov"]["ours"][b] for r in rows)
            base_c = statistics.mean(r["cov"]["chunk-bm25"][b] for r in rows)
            ours_p, base_p = package_mean(rows, "ours", b)[0], package_mean(rows, "chunk-bm25", b)[0]
            print(f"  @{b // 1000}k ours / chunk-bm25: {ours_c / base_c if base_c else float('nan'):.2f}x (cases), "
                  f"{ours_p / base_p if base_p else float('nan'):.2f}x (packages); 90% over packages: "
                  f"ours {ci['ours'][0]:.3f}..{ci['ours'][1]:.3f}, chunk-bm25 {ci['chunk-bm25'][0]:.3f}.."
                  f"{ci['chunk-bm25'][1]:.3f}, ratio {ci['ratio'][0]:.2f}..{ci['ratio'][1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="tune",
                        choices=("tune", "report", "pypi", "pypi-tune", "npm", "npm-tune", "all"))
    parser.add_argument("--budgets", default="8000,32000")
    parser.add_argument("--only", default="", help="comma-separated methods: " + ", ".join(METHODS))
    parser.add_argument("--jobs", type=int, default=2, help="processes (at most 2)")
    parser.add_argument("--work", default="", help="keep the rebuilt repositories here (reused between runs)")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--explain", action="store_true", help="one line per case (tuning splits only)")
    parser.add_argument("--params", default="", help="JSON of RankParams / SelectParams fields for ours")
    args = parser.parse_args()
    if args.explain and args.split not in ("tune", "pypi-tune", "npm-tune"):
        sys.exit("--explain shows cases one by one: tuning splits only")
    budgets = [int(b) for b in args.budgets.split(",")]
    methods = [m for m in METHODS if not args.only or m in args.only.split(",")]
    cases = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()]
    cases = [c for c in cases if args.split == "all" or c["split"] == args.split]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="pwm-heldout-run-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    try:
        jobs = [(c, str(work), budgets, methods, args.params, args.explain) for c in cases]
        with ProcessPoolExecutor(max_workers=max(1, min(2, args.jobs))) as pool:
            rows = list(pool.map(run_case, jobs))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.explain:
        buckets: dict[str, int] = {}
        for c, r in zip(cases, rows, strict=True):
            covs = "  ".join(f"{m} {r['cov'][m][budgets[0]]:.2f}" for m in methods)
            gold = ", ".join(f"{p} #{r['ranks'].get(p)}" if r["ranks"] else p for p in c["gold"])
            print(f"{c['id'][:48]:48s} {covs}  gold {gold}")
            print(f"{'':48s} task: {' '.join(str(c['task']).split())[:110]}")
            if r["ranks"]:
                main_gold = max(c["gold"], key=lambda p: len(c["gold_lines"].get(p, ())))
                at = r["ranks"][main_gold]
                key = "unranked" if at is None else "1" if at == 1 else "2-3" if at <= 3 else "4-10" if at <= 10 else ">10"
                buckets[key] = buckets.get(key, 0) + 1
        if buckets:
            print("main gold file's rank: " + ", ".join(f"{k} {v}" for k, v in sorted(buckets.items())))
            print(f"ours' coverage lost at {budgets[0]} (mean over cases): "
                  f"{statistics.mean(r['losses'][0] for r in rows):.3f} in gold files the selection reached, "
                  f"{statistics.mean(r['losses'][1] for r in rows):.3f} in gold files it did not reach")
    splits = sorted({c["split"] for c in cases}) if args.split == "all" else [args.split]
    for split in splits:
        report([r for r in rows if r["split"] == split], split, budgets, methods)
    if args.split == "all":
        report(rows, "all", budgets, methods)
    spent = {k: sum(r["secs"][k] for r in rows) for k in rows[0]["secs"]} if rows else {}
    print("\nseconds summed over cases: " + ", ".join(f"{k} {v:.0f}" for k, v in spent.items()))
    print(f"{len(cases)} cases in {time.perf_counter() - t0:.0f} s with {min(2, args.jobs)} processes; "
          f"load average (1 min) {load0:.1f}..{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
