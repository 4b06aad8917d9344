"""Customers whose usage is refused whatever the balance: paused by an operator
(``creditgate.ledger.operators.pause``), or closing and closed (``creditgate.ledger.closure``).
Their new usage events are rejected and their holds refused."""

from collections.abc import Sequence

from sqlalchemy import select

from creditgate.ledger import tables as t
from creditgate.ledger.accounts import Account
from creditgate.ledger.errors import LedgerError
from creditgate.ledger.usage import UsageResult

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


def batch_refusal(results: Sequence[UsageResult]) -> LedgerError | None:
    """The 402 for a batch whose every event was refused for its customer's status; None
    from the first event that was not (a debited batch costs one look)."""
    reasons: list[str] = []
    for result in results:
        reason = result.reason or ""
        if result.status != "rejected" or not reason.startswith((PAUSED, CLOSED)):
            return None
        reasons.append(reason)
    if not reasons:
        return None
    closed = next((r for r in reasons if r.startswith(CLOSED)), None)
    return CustomerClosed(closed) if closed else CustomerPaused(reasons[0])
