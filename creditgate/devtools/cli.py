"""The ``creditgate`` command."""

import argparse
import sys

from pydantic import ValidationError

from creditgate.devtools import keys_cli
from creditgate.infra.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        messages = "; ".join(
            (f"CREDITGATE_{str(e['loc'][0]).upper()}: " if e["loc"] else "")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in err.errors()
        )
        print(f"creditgate: invalid settings: {messages}", file=sys.stderr)
        raise SystemExit(2) from err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="creditgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the whole stack locally (what `make run` does)")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("check", help="verify the ledger invariants; non-zero exit on violations")
    commands.add_parser("demo", help="narrate a customer's whole lifecycle against `make run`")
    listen = commands.add_parser(
        "listen", help="print this stack's webhook events as they arrive (like `stripe listen`)"
    )
    listen.add_argument("--api", help="the API's base URL (default: from the settings)")
    listen.add_argument("--events", default="*", help="comma-separated event types (default: all)")
    _add_outbox_parser(commands)
    keys_cli.add_parser(commands)
    args = parser.parse_args(argv)

    settings = _settings()
    if args.command == "dev":
        from creditgate.devtools.devstack import run_dev

        return run_dev(settings)
    if args.command == "migrate":
        from creditgate.devtools.migrate import upgrade

        upgrade(settings.database_url)
        return 0
    if args.command == "check":
        return _check(settings)
    if args.command == "demo":
        from creditgate.devtools.demo import run_demo

        return run_demo(settings)
    if args.command == "keys":
        return keys_cli.run(settings, args)
    if args.command == "listen":
        from creditgate.devtools.listen import run_listen

        return run_listen(settings, args.api, [t for t in args.events.split(",") if t])
    if args.command == "outbox":
        return _outbox_retry(settings, args.id)
    parser.error(f"unknown command {args.command}")
    return 2


def _check(settings: Settings) -> int:
    import asyncio

    import stripe

    from creditgate.checks.ledger import check
    from creditgate.checks.payments import check_payments
    from creditgate.infra.db import Database
    from creditgate.payments.stripe_gateway import StripeGateway

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            violations = await check(db)
            try:
                violations += await check_payments(db, StripeGateway.from_settings(settings))
            except stripe.StripeError as err:
                for violation in violations:
                    print(violation)
                print(
                    f"creditgate check: cannot read PaymentIntents from Stripe at "
                    f"{settings.stripe_api_base} ({err.user_message or err}); invariants 4, "
                    "6 and 10 need it",
                    file=sys.stderr,
                )
                return 2
        finally:
            await db.dispose()
        for violation in violations:
            print(violation)
        if violations:
            print(f"creditgate check: {len(violations)} violation(s)", file=sys.stderr)
            return 1
        print("creditgate check: invariants 2, 3, 4, 5, 6, 9 and 10 hold")
        return 0

    return asyncio.run(run())


def _add_outbox_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    outbox = commands.add_parser("outbox", help="the ledger outbox's dead-lettered rows")
    actions = outbox.add_subparsers(dest="action", required=True)
    retry = actions.add_parser("retry", help="send dead-lettered rows again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="the row (as `creditgate check` names it)")
    which.add_argument("--all", action="store_true", help="every dead-lettered row")


def _outbox_retry(settings: Settings, row_id: int | None) -> int:
    import asyncio

    from creditgate.infra.db import Database
    from creditgate.ledger import outbox

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            return await outbox.retry(db, row_id)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    print(f"creditgate outbox: {count} dead-lettered row(s) put back for the relay")
    return 0 if count or row_id is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
