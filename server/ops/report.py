"""`parallel-work-manager report [DAYS] [--days N] [--group-by KEY] [--json]`.

The seed's `report 7` works as written (a bare number is the number of days). `--recommendations`
prints only the recommendations (the seed's `recommendations` command).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from server.formatting import plural, usd
from server.perf.price_sync import load_catalog_with_cache
from server.perf.queries import PerfReader
from server.perf.report import GROUP_BY_CHOICES
from server.perf.service import cost_report
from server.settings import Settings
from server.store import Store

__all__ = ["add_arguments", "render_report", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("days_positional", nargs="?", type=float, metavar="DAYS", help="same as --days")
    parser.add_argument("--days", type=float, default=None, help="how many days back to report (default 7)")
    parser.add_argument("--group-by", choices=GROUP_BY_CHOICES, default="model", help="one row per ... (default model)")
    parser.add_argument("--recommendations", action="store_true", help="print only the recommendations")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _money(value: Any) -> str:
    return "-" if value is None else usd(value)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ms(value: Any) -> str:
    return "-" if value is None else (f"{value / 1000:.1f}s" if value >= 1000 else f"{value:.0f}ms")


def render_report(report: dict[str, Any], *, only_recommendations: bool = False) -> str:
    """The report as a plain-text table."""
    lines: list[str] = []
    if not only_recommendations:
        t = report["totals"]
        lines.append(f"Cost and performance, last {report['days']:g} days (by {report['group_by']})")
        lines.append(
            f"  spend {_money(t['spend_usd'])}  calls {t['calls']}  success {_pct(t['success_rate'])}  "
            f"tokens in {t['input_tokens']:,} / out {t['output_tokens']:,}  "
            f"latency p50 {_ms(t['latency_ms']['p50'])} p95 {_ms(t['latency_ms']['p95'])} p99 {_ms(t['latency_ms']['p99'])}"
        )
        saving = t["saving_usd"]
        pct = f" ({t['saving_pct']:.0f}%)" if t["saving_pct"] is not None else ""
        lines.append(
            f"  saving vs the quality model: {_money(saving)}{pct} (same tokens at quality prices: "
            f"{_money(t['quality_baseline_usd'])})"
        )
        if t["unknown_cost_calls"]:
            lines.append(f"  {plural(t['unknown_cost_calls'], 'call')} had no known price (charged at their reservation)")
        lines.append("")
        header = f"  {'KEY':<34} {'SPEND':>11} {'CALLS':>6} {'SUCCESS':>8} {'TOK IN':>10} {'TOK OUT':>9} {'P50':>7} {'P95':>7} {'P99':>7} {'SAVING':>11}"
        lines.append(header)
        for row in report["rows"]:
            lat = row["latency_ms"]
            lines.append(
                f"  {row['key'][:34]:<34} {_money(row['spend_usd']):>11} {row['calls']:>6} {_pct(row['success_rate']):>8} "
                f"{row['input_tokens']:>10,} {row['output_tokens']:>9,} {_ms(lat['p50']):>7} {_ms(lat['p95']):>7} "
                f"{_ms(lat['p99']):>7} {_money(row['saving_usd']):>11}"
            )
        if not report["rows"]:
            lines.append("  (no calls recorded in this period)")
        lines.append("")
        budget = report.get("budget")
        if budget:
            lines.append("Budgets:")
            for p in budget["periods"]:
                limit = "no limit" if p["limit"] is None else f"limit {_money(p['limit'])}"
                lines.append(
                    f"  {p['name']:<8} spent {_money(p['spent'])} reserved {_money(p['reserved'])} {limit}  [{p['state']}]"
                )
            lines.append("")
    recs = report["recommendations"]
    lines.append("Recommendations:" if recs else "Recommendations: none (nothing in the data calls for a change)")
    for i, rec in enumerate(recs, 1):
        saving = rec["estimated_saving_usd"]
        tail = f"  [est. saving {_money(saving)}; ~{_money(rec['estimated_saving_per_30_days_usd'])}/30 days]" if saving else ""
        lines.append(f"  {i}. {rec['recommendation']}{tail}")
        lines.append(f"     -> {rec['action']}")
    return "\n".join(lines)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    days = args.days if args.days is not None else (args.days_positional or 7.0)
    catalog = load_catalog_with_cache(settings)
    if settings.db_url.startswith("postgresql://"):
        store = await Store.open(settings.db_url)
        try:
            report = await cost_report(PerfReader.for_store(store), catalog, settings, days=days,
                                       group_by=args.group_by, store=store)
        finally:
            await store.close()
        _print(report, args)
        return 0
    reader = PerfReader(settings.db_path)
    if not reader.exists:
        empty: dict[str, Any] = {"days": days, "database": str(settings.db_path), "rows": [], "recommendations": []}
        if args.json:
            print(json.dumps({**empty, "note": "no database yet: nothing has run"}))
        else:
            print(f"No calls recorded yet: {settings.db_path} does not exist.")
        return 0
    async with reader:
        report = await cost_report(reader, catalog, settings, days=days, group_by=args.group_by)
    _print(report, args)
    return 0


def _print(report: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(report if not args.recommendations else report["recommendations"], indent=2))
    else:
        print(render_report(report, only_recommendations=args.recommendations))
