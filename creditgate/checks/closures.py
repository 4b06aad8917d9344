"""``creditgate check``, invariant 10 (docs/invariants.md): a closed account keeps nothing,
and each closure refund is in Stripe exactly once, for the amount the ledger decided.

- a ``closed`` customer has no active grant with credit left, holds nothing, and no closure
  refund still ``pending``;
- a ``succeeded`` closure refund is the one refund of its PaymentIntent that names its
  purchase, with the refund id and the amount (in minor units) the ledger recorded.
"""

from sqlmodel import col, select

from creditgate.checks.ledger import Violation
from creditgate.infra.db import Database
from creditgate.models import ClosureRefund, Customer, Grant, Wallet
from creditgate.payments.stripe_gateway import StripeGateway
from creditgate.pricing.currency import minor_unit_exponent


async def check_closures(db: Database, stripe: StripeGateway) -> list[Violation]:
    found: list[Violation] = []
    async with db.session() as session:
        closed = (
            await session.exec(
                select(Customer, Wallet)
                .join(Wallet, col(Wallet.customer_id) == col(Customer.id))
                .where(Customer.status == "closed")
            )
        ).all()
        refunds = (await session.exec(select(ClosureRefund))).all()
        names = {
            c.id: c.external_id
            for c in (
                await session.exec(
                    select(Customer).where(col(Customer.id).in_({r.customer_id for r in refunds}))
                )
            ).all()
        }
        for customer, wallet in closed:
            left = (
                await session.exec(
                    select(Grant).where(
                        Grant.customer_id == customer.id,
                        Grant.status == "active",
                        col(Grant.remaining) > 0,
                    )
                )
            ).all()
            for grant in left:
                found.append(
                    Violation(
                        10,
                        customer.external_id,
                        f"closed, grant {grant.id} keeps {grant.remaining}",
                    )
                )
            if wallet.held != 0:
                found.append(Violation(10, customer.external_id, f"closed, holds {wallet.held}"))
    closed_ids = {c.id for c, _ in closed}
    for refund in refunds:
        who = names.get(refund.customer_id, f"customer id {refund.customer_id}")
        if refund.status == "pending" and refund.customer_id in closed_ids:
            found.append(Violation(10, who, f"closed, refund of {refund.purchase_id} pending"))
        if refund.status != "succeeded":
            continue
        minor = int(refund.amount.scaleb(minor_unit_exponent(refund.currency)))
        in_stripe = [
            r
            for r in await stripe.refunds_of(refund.payment_intent)
            if r.purchase == refund.purchase_id
        ]
        if [(r.id, r.amount) for r in in_stripe] != [(refund.stripe_refund_id, minor)]:
            found.append(
                Violation(
                    10,
                    who,
                    f"closure refund of {refund.purchase_id} ({refund.stripe_refund_id}, "
                    f"{minor}) but Stripe holds {[(r.id, r.amount) for r in in_stripe]}",
                )
            )
    return found
