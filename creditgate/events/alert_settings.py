"""Saving and reading a customer's spend alerts (``PUT``/``GET .../alerts``).

Saved in a ledger transaction holding the customer's lock, so no debit checks half-saved
amounts; percentages resolve against the customer's last grant (``alerts.BASE_SOURCES``).
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from creditgate.events import alerts
from creditgate.events.alerts import AlertThreshold
from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account, read_account, snapshot, utcnow
from creditgate.ledger.errors import NotFound


@dataclass(frozen=True)
class AlertSettings:
    thresholds: list[AlertThreshold]
    # What they are now as amounts of ``available`` (highest first); a percentage counts
    # once the customer has a grant to take it of.
    amounts: list[Decimal]
    base: Decimal | None  # the last grant's amount, what percentages refer to


async def _state(account: Account) -> AlertSettings:
    wallet = t.wallets.c
    rules = (
        await account.conn.execute(
            select(wallet.alert_rules).where(wallet.customer_id == account.customer_id)
        )
    ).scalar_one()
    return AlertSettings(
        thresholds=[AlertThreshold.model_validate(r) for r in rules or []],
        amounts=list(alerts.amounts(account.alert_amounts)),
        base=await _base(account) if alerts.has_percent(rules) else None,
    )


async def _base(account: Account) -> Decimal | None:
    grant = t.grants.c
    return (
        await account.conn.execute(
            select(grant.amount)
            .where(
                grant.customer_id == account.customer_id,
                grant.source.in_(alerts.BASE_SOURCES),
            )
            .order_by(grant.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def save(db: Database, external_id: str, thresholds: list[AlertThreshold]) -> AlertSettings:
    rules = [threshold.stored() for threshold in thresholds]

    async def work(account: Account) -> AlertSettings:
        base = await _base(account) if alerts.has_percent(rules) else None
        account.alert_amounts = alerts.resolve(rules, base)
        await account.conn.execute(
            t.wallets.update()
            .where(t.wallets.c.customer_id == account.customer_id)
            .values(alert_rules=rules, alert_amounts=account.alert_amounts)
        )
        return AlertSettings(
            thresholds=thresholds, amounts=list(alerts.amounts(account.alert_amounts)), base=base
        )

    return await service.in_account(db, work, external_id=external_id)


async def read(db: Database, external_id: str) -> AlertSettings:
    async with snapshot(db) as conn:
        account = await read_account(conn, utcnow(), external_id)
        if account is None:
            raise NotFound(f"no customer with external_id {external_id!r}")
        return await _state(account)
