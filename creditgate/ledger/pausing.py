"""Customers whose usage is refused whatever the balance: paused by an operator
(``creditgate.ledger.operators.pause``), or closing and closed (``creditgate.ledger.closure``).
Their new usage events are rejected and their holds refused."""

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account
from creditgate.ledger.errors import LedgerError

# The start of a refused event's reason (the events route answers 402 when every event of a
# batch was refused for one of them).
PAUSED = "the customer is paused by an operator: "
CLOSED = "the customer's account is closed"
REFUSED_STATUSES = frozenset({"paused", "closing", "closed"})


class CustomerPaused(LedgerError):
    status = 402
    type = "customer_paused"


class CustomerClosed(LedgerError):
    status = 402
    type = "customer_closed"


def paused_message(reason: str | None) -> str:
    return PAUSED + (reason or "no reason given")


async def paused_reason(account: Account) -> str | None:
    query = select(t.customers.c.paused_reason).where(t.customers.c.id == account.customer_id)
    reason: str | None = (await account.conn.execute(query)).scalar_one_or_none()
    return reason


async def refusal(account: Account) -> str:
    """Why a customer of ``REFUSED_STATUSES`` has its usage refused."""
    if account.status == "paused":
        return paused_message(await paused_reason(account))
    return CLOSED + (" (closing)" if account.status == "closing" else "")


async def refuse_usage(account: Account) -> None:
    if account.status in REFUSED_STATUSES:
        why = await refusal(account)
        raise CustomerClosed(why) if why.startswith(CLOSED) else CustomerPaused(why)


def batch_refusal(reasons: list[str | None]) -> LedgerError | None:
    """The 402 for a batch whose every event was refused for its customer's status."""
    if not reasons:
        return None
    if all((r or "").startswith(PAUSED) for r in reasons):
        return CustomerPaused(reasons[0] or PAUSED)
    if all((r or "").startswith((PAUSED, CLOSED)) for r in reasons):
        first = next(r for r in reasons if (r or "").startswith(CLOSED))
        return CustomerClosed(first or CLOSED)
    return None
