"""`parallel-work-manager tokens create --user NAME [--team T] [--budget USD] [--admin] [--json]`.

Issues a bearer token for the HTTP transport. The token is printed once (with `--json`:
`{"token": …, "user": …}`) and stored only as its hash; once one exists, every HTTP request
needs one. `tokens revoke ID` withdraws one.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.settings import Settings
from server.store import Store

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="issue a token for a user (shown once)")
    create.add_argument("--user", required=True, help="the user the token acts for")
    create.add_argument("--team", help="the user's team (budgets and visibility are shared per team)")
    create.add_argument("--budget", type=float, help="the user's own budget in USD, on top of the global ones")
    create.add_argument("--team-budget", type=float, help="the team's budget in USD")
    create.add_argument("--admin", action="store_true", help="an admin sees and cancels every user's groups")
    create.add_argument("--json", action="store_true", help='print {"token": ..., "user": ...}')
    revoke = actions.add_parser("revoke", help="withdraw a token by its id")
    revoke.add_argument("token_id")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    store = await Store.open(settings.db_url or settings.db_path)
    try:
        if args.tokens_action == "revoke":
            if not await store.revoke_token(args.token_id):
                print(f"parallel-work-manager: no live token with id {args.token_id!r}", file=sys.stderr)
                return 1
            print(f"revoked token {args.token_id}")
            return 0
        issued = await store.create_token(
            args.user, team=args.team, role="admin" if args.admin else "user", budget_usd=args.budget,
            team_budget_usd=args.team_budget,
        )
    finally:
        await store.close()
    if args.json:
        print(json.dumps({"token": issued.token, "user": issued.user}))
    else:
        print(issued.token)
        print(f"token {issued.token_id} for user {issued.user!r}: shown once, keep it safe"
              " (send it as 'Authorization: Bearer <token>')", file=sys.stderr)
    return 0
