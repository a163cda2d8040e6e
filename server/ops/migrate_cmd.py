"""`parallel-work-manager migrate --from SOURCE --to TARGET`: move a store's history elsewhere.

    parallel-work-manager migrate --from sqlite:///home/me/.local/share/parallel-work-manager/pwm.db \\
        --to postgresql://me@db.team:5432/pwm

SOURCE and TARGET are store locations as `PWM_DB` takes them (a SQLite path, `sqlite:///…`,
`postgresql://…`). What moves and what is refused: see `server/store/transfer.py`.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.settings import Settings
from server.store import Store
from server.store.target import parse_db_target
from server.store.transfer import transfer

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, help="the store to copy from (path or URL)")
    parser.add_argument("--to", dest="target", required=True, help="the store to copy into (path or URL)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    source_at, target_at = parse_db_target(args.source), parse_db_target(args.target)
    if source_at.kind == "sqlite" and (source_at.path is None or not source_at.path.expanduser().is_file()):
        print(f"parallel-work-manager: --from {args.source}: no such database file", file=sys.stderr)
        return 1
    source = await Store.open(source_at)
    try:
        target = await Store.open(target_at)
        try:
            report = await transfer(source, target)
        finally:
            await target.close()
    finally:
        await source.close()
    counts = {k: getattr(report, k) for k in ("groups", "tasks", "attempts", "validations", "ledger_days", "models")}
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"moved {report.groups} group(s), {report.tasks} task(s), {report.attempts} call(s),"
              f" {report.validations} validation(s), {report.ledger_days} day(s) of spend and"
              f" {report.models} learned model cost(s) from {source_at.describe()} to {target_at.describe()}")
    return 0
