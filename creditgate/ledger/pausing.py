"""A paused customer (``creditgate.ledger.operators.pause``): usage and holds are refused."""

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account
from creditgate.ledger.errors import LedgerError

# The start of a paused customer's rejected events' reason (the events route answers 402
# when every event of a batch was refused for it).
PAUSED = "the customer is paused by an operator: "


class CustomerPaused(LedgerError):
    status = 402
    type = "customer_paused"


def paused_message(reason: str | None) -> str:
    return PAUSED + (reason or "no reason given")


async def paused_reason(account: Account) -> str | None:
    query = select(t.customers.c.paused_reason).where(t.customers.c.id == account.customer_id)
    reason: str | None = (await account.conn.execute(query)).scalar_one_or_none()
    return reason


async def refuse_if_paused(account: Account) -> None:
    if account.status == "paused":
        raise CustomerPaused(paused_message(await paused_reason(account)))
