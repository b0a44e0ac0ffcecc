"""``supersvg-scheduler``: serve (default), or manage API tokens and migrations.

    supersvg-scheduler                                  # serve gRPC on 0.0.0.0:50051
    supersvg-scheduler migrate                          # apply database migrations
    supersvg-scheduler tokens create --tenant T [--name N] [--rate-limit R] [--max-active-jobs M]
    supersvg-scheduler tokens list [--tenant T]
    supersvg-scheduler tokens revoke TOKEN_ID | --tenant T

The token commands use the database named by SUPERSVG_SCHEDULER_DATABASE_URL directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from supersvg.common.settings import ConfigurationError
from supersvg.scheduler.core import hash_token, new_api_token
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import TenantRecord, TokenRecord, open_store

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supersvg-scheduler", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the gRPC server (the default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    tokens = sub.add_parser("tokens", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = tokens.add_parser("create", help="create a token; prints it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--rate-limit", type=int, default=0, help="requests per minute")
    create.add_argument("--max-active-jobs", type=int, default=0)
    create.add_argument("--json", action="store_true", help="print JSON")
    lst = tokens.add_parser("list", help="list tokens (never their secrets)")
    lst.add_argument("--tenant")
    revoke = tokens.add_parser("revoke", help="revoke a token by id, or all of a tenant's")
    revoke.add_argument("token_id", nargs="?")
    revoke.add_argument("--tenant", help="revoke every active token of this tenant")
    return p


async def _tokens(settings: SchedulerSettings, args: argparse.Namespace) -> int:
    store = await open_store(settings.database_url)
    try:
        await store.migrate()
        if args.action == "create":
            tenant = args.tenant.strip()
            if not tenant:
                print("error: --tenant must not be empty", file=sys.stderr)
                return 2
            existing = await store.get_tenant(tenant)
            await store.upsert_tenant(
                TenantRecord(
                    tenant,
                    args.rate_limit or (existing.rate_limit_per_minute if existing else 0),
                    args.max_active_jobs or (existing.max_active_jobs if existing else 0),
                )
            )
            import secrets

            token = new_api_token()
            rec = TokenRecord("tok_" + secrets.token_hex(6), tenant, args.name, time.time())
            await store.create_token(rec, hash_token(token))
            if args.json:
                print(json.dumps({"token_id": rec.token_id, "tenant": tenant, "token": token}))
            else:
                print(f"token_id: {rec.token_id}\ntenant:   {tenant}\ntoken:    {token}")
            return 0
        if args.action == "list":
            for t in await store.list_tokens(args.tenant):
                state = "revoked" if t.revoked_at else "active"
                print(f"{t.token_id}\t{t.tenant_id}\t{state}\t{t.name}")
            return 0
        if bool(args.token_id) == bool(args.tenant):
            print("error: give a TOKEN_ID or --tenant (not both)", file=sys.stderr)
            return 2
        if args.tenant:
            ids = [t.token_id for t in await store.list_tokens(args.tenant) if not t.revoked_at]
        else:
            ids = [args.token_id]
        revoked = [i for i in ids if await store.revoke_token(i, time.time())]
        if not revoked:
            print("error: no matching active token", file=sys.stderr)
            return 1
        for token_id in revoked:
            print(f"revoked {token_id}")
        return 0
    finally:
        await store.close()


async def _migrate(settings: SchedulerSettings) -> int:
    store = await open_store(settings.database_url)
    try:
        applied = await store.migrate()
        print(f"applied migrations: {applied or 'none (up to date)'}")
        return 0
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = SchedulerSettings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "tokens":
        return asyncio.run(_tokens(settings, args))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    from supersvg.scheduler.server import serve

    try:
        asyncio.run(serve(settings))
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
