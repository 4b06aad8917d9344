"""What must hold after the run, each printed with its figures; any failure fails the run."""

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from chaos.client import Stats
from chaos.load import Load
from chaos.webhooks import Abuse
from creditgate.infra.db import Database
from creditgate.models import Customer, Grant, LedgerEntry, Purchase, UsageEvent, Wallet
from creditgate.payments.stripe_gateway import StripeGateway

ZERO = Decimal(0)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"  [{'ok' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


async def _counts(db: Database, model: type[UsageEvent] | type[LedgerEntry]) -> Counter[str]:
    query = select(model.event_id, func.count()).group_by(col(model.event_id))
    if model is LedgerEntry:
        query = query.where(col(LedgerEntry.kind) == "debit")
    async with db.session() as session:
        return Counter({event_id: n for event_id, n in await session.exec(query) if event_id})


async def events_debited_once(db: Database, load: Load) -> Check:
    recorded, debited = await _counts(db, UsageEvent), await _counts(db, LedgerEntry)
    sent = list(load.events)
    once = sum(1 for i in sent if recorded[i] == 1 and debited[i] == 1)
    missing = sum(1 for i in sent if recorded[i] == 0 or debited[i] == 0)
    twice = sum(1 for i in sent if recorded[i] > 1 or debited[i] > 1)
    answers = ", ".join(f"{n} {status}" for status, n in sorted(load.event_answers.items()))
    again = ", ".join(f"{n} {status}" for status, n in sorted(load.resend_answers.items()))
    return Check(
        "each event id debited exactly once",
        once == len(sent) and len(sent) > 0,
        f"{len(sent)} ids sent under faults (answers: {answers}), all sent again (answers: "
        f"{again}); "
        f"{once} debited once, {missing} never debited, {twice} debited more than once",
    )


async def balances_equal_ledgers(db: Database) -> Check:
    async with db.session() as session:
        sums = dict(
            (
                await session.exec(
                    select(LedgerEntry.customer_id, func.sum(LedgerEntry.amount)).group_by(
                        col(LedgerEntry.customer_id)
                    )
                )
            ).all()
        )
        wallets = (await session.exec(select(Wallet))).all()
    off = [w for w in wallets if w.balance != (sums.get(w.customer_id) or ZERO)]
    return Check(
        "every balance equals its ledger",
        not off and len(wallets) > 0,
        f"{len(wallets)} wallets, {len(off)} differ from the sum of their ledger entries",
    )


async def payments_granted_once(db: Database, stripe: StripeGateway, abuse: Abuse) -> Check:
    async with db.session() as session:
        customers = (await session.exec(select(Customer))).all()
        purchases = {p.id: p for p in (await session.exec(select(Purchase))).all()}
        grants = Counter(
            g.reference
            for g in (await session.exec(select(Grant).where(col(Grant.reference).is_not(None))))
        )
    ours = {c.stripe_customer_id for c in customers}
    intents = [pi for pi in await stripe.list_payment_intents() if pi.customer in ours]
    succeeded = [pi for pi in intents if pi.status == "succeeded"]
    per_purchase = Counter(pi.metadata.get("creditgate_purchase_id") for pi in succeeded)
    problems = []
    for pi in succeeded:
        named = pi.metadata.get("creditgate_purchase_id")
        purchase = purchases.get(named or "")
        if purchase is None or purchase.status != "granted" or grants[purchase.id] != 1:
            problems.append(f"{pi.id} (purchase {named}) granted {grants[named]} times")
        elif purchase.payment_intent != pi.id or per_purchase[named] != 1:
            problems.append(f"purchase {named} paid by {per_purchase[named]} PaymentIntents")
    unpaid_granted = [
        p.id
        for p in purchases.values()
        if p.status == "granted" and p.payment_intent not in {pi.id for pi in succeeded}
    ]
    forged = [
        p.id
        for p in purchases.values()
        if p.payment_intent in abuse.must_not_grant or p.id in abuse.must_not_grant
    ]
    forged_granted = [i for i in forged if purchases[i].status == "granted" or grants[i]]
    others = Counter(pi.status for pi in intents if pi.status != "succeeded")
    return Check(
        "every succeeded PaymentIntent granted exactly once",
        not problems and not unpaid_granted and not forged_granted,
        f"{len(succeeded)} succeeded PaymentIntents, {len(succeeded) - len(problems)} granted "
        f"exactly once; not succeeded: {dict(others)}; {len(unpaid_granted)} grants without "
        f"a succeeded PaymentIntent; forged 'succeeded' events granted: {len(forged_granted)}"
        + ("; " + "; ".join(problems[:5]) if problems else ""),
    )


async def no_purchase_pending(db: Database, load: Load) -> Check:
    async with db.session() as session:
        purchases = (await session.exec(select(Purchase))).all()
    by_status = Counter(f"{p.kind} {p.status}" for p in purchases)
    pending = [p.id for p in purchases if p.status == "pending"]
    split = [s.key for s in load.purchases if len(s.purchase_ids) != 1]
    ended = {p.id: p.status for p in purchases}
    wrong = [
        f"{s.key} ({'good' if s.good else 'declining'} card) {ended.get(i)}"
        for s in load.purchases
        for i in s.purchase_ids
        if ended.get(i) != ("granted" if s.good else "failed")
    ]
    return Check(
        "no purchase left pending",
        not pending and not split and not wrong,
        f"{len(load.purchases)} purchases sent ({dict(sorted(by_status.items()))}); "
        f"{len(pending)} pending; {len(split)} Idempotency-Keys answered with other than one "
        f"purchase; {len(wrong)} ended otherwise than their card says"
        + (f": {', '.join(wrong[:5])}" if wrong else ""),
    )


async def no_signup_half_done(db: Database, stripe: StripeGateway, load: Load) -> Check:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(Customer, Wallet).join(Wallet, col(Wallet.customer_id) == col(Customer.id))
            )
        ).all()
    complete = {c.external_id for c, _ in rows if c.stripe_customer_id}
    in_stripe: Counter[str] = Counter()
    params: dict[str, object] = {"limit": 100}
    while True:
        page = await stripe.client.v1.customers.list_async(params)  # type: ignore[arg-type]
        in_stripe.update(_external_id(c) for c in page.data)
        if not page.has_more or not page.data:
            break
        params["starting_after"] = page.data[-1].id
    wanted = [c.external_id for c in load.customers]
    half = [i for i in wanted if i not in complete]
    stripe_off = [i for i in wanted if in_stripe[i] != 1]
    return Check(
        "no signup half done",
        not half and not stripe_off,
        f"{len(wanted)} signups, {len(wanted) - len(half)} with customer, wallet and Stripe "
        f"customer; {len(stripe_off)} without exactly one Stripe customer",
    )


def _external_id(stripe_customer: Any) -> str:
    metadata = stripe_customer.to_dict().get("metadata") or {}
    return str(metadata.get("creditgate_external_id", ""))


def creditgate_check(environment: dict[str, str]) -> Check:
    result = subprocess.run(
        [sys.executable, "-m", "creditgate.devtools.cli", "check"],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    return Check(
        "`creditgate check` clean",
        result.returncode == 0,
        f"exit {result.returncode}: " + " | ".join(lines[-8:]),
    )


def webhook_abuse(abuse: Abuse) -> list[Check]:
    return [
        Check(f"webhook: {o.what}", o.ok, f"expected {o.expected}, got {o.got}")
        for o in abuse.outcomes
    ]


def clients_saw_no_bug(stats: Stats, load: Load) -> Check:
    internal = {k: n for k, n in stats.retried_answers.items() if k.startswith("500")}
    return Check(
        "no 500 answer and no unexpected 4xx",
        not internal and not load.unexpected,
        f"500s: {internal or 'none'}; unexpected: {load.unexpected[:5] or 'none'}",
    )
