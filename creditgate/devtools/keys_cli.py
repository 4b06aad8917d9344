"""``creditgate keys create|list|revoke``: API keys, straight on the database."""

import argparse
import asyncio
import getpass
import uuid

from creditgate.access import audit, keys
from creditgate.infra.db import Database
from creditgate.infra.settings import Settings
from creditgate.models import KeyScope


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a key (printed once)")
    create.add_argument("--name", required=True, help="who or what uses it (in the audit log)")
    create.add_argument("--scope", required=True, choices=[s.value for s in KeyScope])
    actions.add_parser("list", help="every key, revoked ones too (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="refuse a key from now on, in every API process")
    revoke.add_argument("id", help="the key's id (key_…), as `creditgate keys list` shows it")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    db = Database(settings.database_url)
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.action == "create":
            record, key = await keys.create(db, args.name, KeyScope(args.scope))
            await _audit(db, actor, "keys create", record.id, {"name": args.name})
            print(f"{record.id}  {record.name}  {record.scope!s}")
            print(f"key (shown once, keep it secret): {key}")
            return 0
        if args.action == "list":
            for record in await keys.list_keys(db):
                state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else ""
                print(f"{record.id}  {record.prefix}…  {record.scope!s:6}  {record.name}  {state}")
            return 0
        try:
            record = await keys.revoke(db, args.id)
        except keys.UnknownKey:
            print(f"creditgate keys: no key {args.id!r}")
            return 1
        await _audit(db, actor, "keys revoke", record.id, {})
        print(f"{record.id} revoked")
        return 0
    finally:
        await db.dispose()


async def _audit(
    db: Database, actor: str, action: str, key_id: str, details: dict[str, str]
) -> None:
    await audit.record(
        db,
        actor=actor,
        action=action,
        target=f"/v1/api-keys/{key_id}",
        status=0,
        request_id=f"cli_{uuid.uuid4().hex}",
        details=details,
    )
