"""Refunds take credits back (``charge.refunded``): policy in docs/decisions.md.

The refunded share of a purchase's credits comes off that purchase's grant first (its
unspent part). What the customer already spent cannot come back from the grant: it is
charged to the wallet like usage, burning the customer's other credits and then becoming
debt, which the next grant pays first.
"""

from dataclasses import dataclass
from decimal import Decimal

from creditgate.ledger.accounts import ZERO, Account
from creditgate.ledger.usage import burn_grants
from creditgate.values.money import to_str


@dataclass(frozen=True)
class ClawbackOutcome:
    credits: Decimal  # taken back in total by this clawback
    from_grant: Decimal  # of which came off the purchase's grant (unspent credits)
    charged: Decimal  # of which was already spent: charged to other credits or debt


async def claw_back(
    account: Account, grant_id: int, credits: Decimal, description: str
) -> ClawbackOutcome:
    if credits <= 0:
        return ClawbackOutcome(ZERO, ZERO, ZERO)
    grants = await account.active_grants()
    grant = next((g for g in grants if g.id == grant_id), None)
    from_grant = min(grant.remaining, credits) if grant is not None else ZERO
    allocations = []
    if grant is not None and from_grant > 0:
        grant.remaining -= from_grant
        if grant.remaining == 0:
            grant.status = "voided"
        account.grant_changed(grant)
        allocations.append({"grant_id": grant_id, "amount": to_str(from_grant)})
    charged = credits - from_grant
    allocations += await burn_grants(account, charged)
    account.book(
        "clawback", -credits, grant_id=grant_id, allocations=allocations, description=description
    )
    return ClawbackOutcome(credits, from_grant, charged)
