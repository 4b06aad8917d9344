"""``creditgate check``, the payment invariants (4 and 6 of docs/invariants.md), against Stripe.

4. every purchase/recharge grant maps to exactly one succeeded PaymentIntent, for the
   purchase's amount, and every succeeded PaymentIntent of our Stripe customers that names
   a purchase maps to exactly one grant; failed or pending purchases grant nothing;
6. at most one auto-recharge attempt is pending per customer, each recharge granted at most
   once, and after a recharge's grant the balance was at least the threshold (less any
   usage recorded after the attempt was priced).

Invariant 10 (closed accounts and their refunds) is ``creditgate.checks.closures``, run here.
"""

from collections import Counter, defaultdict
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import col, select

from creditgate.checks.closures import check_closures
from creditgate.checks.ledger import Violation
from creditgate.infra.db import Database
from creditgate.models import AutoRecharge, Customer, Grant, LedgerEntry, Purchase
from creditgate.payments.stripe_gateway import StripeGateway
from creditgate.pricing.currency import to_minor_units

PAID_SOURCES = ("purchase", "recharge", "invoice")
USAGE_KINDS = ("debit", "true_up")


async def check_payments(db: Database, stripe: StripeGateway) -> list[Violation]:
    found: list[Violation] = []
    async with db.session() as session:
        customers = {c.id: c for c in (await session.exec(select(Customer))).all()}
        purchases = {p.id: p for p in (await session.exec(select(Purchase))).all()}
        grants = (
            await session.exec(select(Grant).where(col(Grant.source).in_(PAID_SOURCES)))
        ).all()
        settings = {a.customer_id: a for a in (await session.exec(select(AutoRecharge))).all()}
        grant_entries = {
            e.grant_id: e
            for e in (
                await session.exec(select(LedgerEntry).where(LedgerEntry.kind == "grant"))
            ).all()
        }
    ours = {c.stripe_customer_id for c in customers.values() if c.stripe_customer_id}
    # Only our customers' PaymentIntents: a Stripe account (or a shared localstripe) may
    # hold others.
    intents = [pi for pi in await stripe.list_payment_intents() if pi.customer in ours]

    def who(customer_id: int) -> str:
        customer = customers.get(customer_id)
        return customer.external_id if customer else f"customer id {customer_id}"

    def bad(invariant: int, customer_id: int, message: str) -> None:
        found.append(Violation(invariant, who(customer_id), message))

    by_reference: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        if grant.reference is None or grant.reference not in purchases:
            bad(4, grant.customer_id, f"{grant.source} grant {grant.id} names no purchase")
            continue
        by_reference[grant.reference].append(grant)

    succeeded = Counter(
        pi.metadata.get("creditgate_purchase_id") for pi in intents if pi.status == "succeeded"
    )
    intent_by_id = {pi.id: pi for pi in intents}
    for purchase in purchases.values():
        made = by_reference.get(purchase.id, [])
        if purchase.status == "granted":
            if len(made) != 1:
                bad(4, purchase.customer_id, f"purchase {purchase.id} granted {len(made)} times")
            pi = intent_by_id.get(purchase.payment_intent or "")
            if pi is None or pi.status != "succeeded":
                status = pi.status if pi else "missing"
                bad(
                    4,
                    purchase.customer_id,
                    f"purchase {purchase.id} granted, its PaymentIntent is {status}",
                )
            elif pi.amount != to_minor_units(purchase.amount, purchase.currency):
                bad(
                    4,
                    purchase.customer_id,
                    f"purchase {purchase.id}: charged {pi.amount} minor units "
                    f"for {purchase.amount}",
                )
        elif made:
            bad(4, purchase.customer_id, f"{purchase.status} purchase {purchase.id} has a grant")
        if succeeded[purchase.id] > 1:
            bad(
                4,
                purchase.customer_id,
                f"purchase {purchase.id} was paid {succeeded[purchase.id]} times",
            )
    for pi in intents:
        named = pi.metadata.get("creditgate_purchase_id")
        if pi.status != "succeeded" or named is None:
            continue
        paid_for = purchases.get(named)
        if paid_for is None or paid_for.status != "granted":
            customer_id = paid_for.customer_id if paid_for else -1
            bad(
                4,
                customer_id,
                f"PaymentIntent {pi.id} succeeded but purchase {named} granted nothing",
            )

    pending_recharges = Counter(
        p.customer_id for p in purchases.values() if p.kind == "recharge" and p.status == "pending"
    )
    for customer_id, count in pending_recharges.items():
        if count > 1:
            bad(6, customer_id, f"{count} auto-recharge attempts pending at once")
    granted_per_recharge = Counter(
        p.id.rsplit("-", 1)[0]
        for p in purchases.values()
        if p.kind == "recharge" and p.status == "granted"
    )
    for recharge_id, count in granted_per_recharge.items():
        if count > 1:
            customer_id = next(
                p.customer_id for p in purchases.values() if p.id.startswith(recharge_id)
            )
            bad(6, customer_id, f"recharge {recharge_id} granted {count} times")
    for purchase in purchases.values():
        setting = settings.get(purchase.customer_id)
        entry = grant_entries.get(purchase.grant_id) if purchase.grant_id else None
        if purchase.kind != "recharge" or setting is None or entry is None:
            continue
        if entry.balance_after >= setting.threshold:
            continue
        # Usage recorded after the attempt was priced (the card charge and the grant take a
        # while) may leave the balance short; that shortfall is the customer's, not the
        # recharge's, and the ledger asks for another recharge.
        async with db.session() as session:
            since_priced = await session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.customer_id == purchase.customer_id,
                    col(LedgerEntry.kind).in_(USAGE_KINDS),
                    col(LedgerEntry.created_at) >= purchase.created_at,
                    col(LedgerEntry.id) < entry.id,
                )
            )
        if entry.balance_after - Decimal(since_priced or 0) < setting.threshold:
            bad(
                6,
                purchase.customer_id,
                f"after recharge {purchase.id} the balance {entry.balance_after} "
                f"is below the threshold {setting.threshold}",
            )
    return found + await check_closures(db, stripe)
