"""A customer's wallet locked for one ledger transaction, and everything booked through it."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.ledger.burn import Lot, burn_key
from creditgate.models import (
    Customer,
    CustomerStatus,
    Grant,
    Hold,
    LedgerEntry,
    OutboxMessage,
    Wallet,
)

ZERO = Decimal(0)


@dataclass
class Account:
    """Customer + wallet, locked (``FOR UPDATE`` on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serializes writers) until the transaction ends."""

    session: AsyncSession
    customer: Customer
    wallet: Wallet
    now: datetime
    start_balance: Decimal = ZERO
    start_available: Decimal = ZERO
    _grants: list[Grant] | None = field(default=None, repr=False)

    @property
    def customer_id(self) -> int:
        assert self.customer.id is not None
        return self.customer.id

    async def active_grants(self) -> list[Grant]:
        """Active grants in burn-down order (loaded once per transaction)."""
        if self._grants is None:
            rows = await self.session.exec(
                select(Grant).where(Grant.customer_id == self.customer_id, Grant.status == "active")
            )
            self._grants = sorted(rows.all(), key=lambda g: burn_key(_lot(g)))
        return self._grants

    def add_grant_to_cache(self, grant: Grant) -> None:
        if self._grants is not None:
            self._grants.append(grant)
            self._grants.sort(key=lambda g: burn_key(_lot(g)))

    def book(self, kind: str, amount: Decimal, **fields: Any) -> LedgerEntry:
        """Append a ledger entry and move the wallet balance by ``amount``."""
        self.wallet.balance += amount
        entry = LedgerEntry(
            customer_id=self.customer_id,
            kind=kind,
            amount=amount,
            balance_after=self.wallet.balance,
            created_at=self.now,
            **fields,
        )
        self.session.add(entry)
        return entry

    def notify(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        """Queue a lifecycle message for the customer's workflow (sent by the outbox relay)."""
        self.session.add(
            OutboxMessage(
                message_id=f"{kind}-{uuid.uuid4().hex}",
                customer_id=self.customer_id,
                workflow_id=self.customer.workflow_id,
                kind=kind,
                payload=payload or {},
                created_at=self.now,
            )
        )

    def finish(self) -> None:
        """Entitlement, status and crossings: called once before the transaction commits.

        ``entitled`` follows the balance (Σ remaining − debt > 0); holds do not cut a customer
        off, they only refuse new holds. The recharge threshold compares ``available``.
        """
        wallet, customer = self.wallet, self.customer
        balance = wallet.balance
        was_entitled = wallet.entitled
        wallet.entitled = balance > 0
        if customer.status != CustomerStatus.closed:
            if was_entitled and not wallet.entitled:
                customer.status = CustomerStatus.cut_off
                self.notify("zero", {"balance": str(balance)})
            elif wallet.entitled and not was_entitled:
                if customer.status == CustomerStatus.cut_off:
                    customer.status = CustomerStatus.active
                self.notify("restored", {"balance": str(balance)})
        threshold = wallet.recharge_threshold
        available = wallet.available
        if threshold is not None and self.start_available > threshold >= available:
            self.notify("threshold", {"available": str(available), "threshold": str(threshold)})
        if balance != self.start_balance or wallet.entitled != was_entitled:
            wallet.updated_at = self.now
        self.session.add(wallet)
        self.session.add(customer)


def _lot(grant: Grant) -> Lot:
    assert grant.id is not None
    return Lot(grant.id, grant.remaining, grant.priority, grant.expires_at, grant.created_at)


async def lock_account(
    session: AsyncSession,
    now: datetime,
    *,
    external_id: str | None = None,
    customer_id: int | None = None,
) -> Account | None:
    query = select(Customer, Wallet).join(Wallet, col(Wallet.customer_id) == col(Customer.id))
    if external_id is not None:
        query = query.where(Customer.external_id == external_id)
    else:
        query = query.where(Customer.id == customer_id)
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    if postgres:
        query = query.with_for_update(of=Wallet)
    row = (await session.exec(query)).first()
    if row is None:
        return None
    customer, wallet = row
    if postgres:
        # After waiting for the wallet lock, READ COMMITTED re-reads only the locked wallet
        # row; the joined customer row is still the version from before the wait (a status
        # the previous lock holder may have changed). Read it again, now under the lock.
        await session.refresh(customer)
    return Account(
        session=session,
        customer=customer,
        wallet=wallet,
        now=now,
        start_balance=wallet.balance,
        start_available=wallet.available,
    )


async def expire_due(account: Account) -> list[Grant]:
    """Expire what remains of grants past ``expires_at`` and holds past their TTL."""
    expired: list[Grant] = []
    for grant in list(await account.active_grants()):
        if grant.expires_at is not None and grant.expires_at <= account.now:
            lost = grant.remaining
            grant.remaining = ZERO
            grant.expired_amount = lost
            grant.status = "expired"
            account.session.add(grant)
            if lost > 0:
                account.book("expiry", -lost, grant_id=grant.id, description="grant expired")
            expired.append(grant)
    if expired and account._grants is not None:
        account._grants = [g for g in account._grants if g.status == "active"]
    if account.wallet.held > 0:
        await expire_holds(account)
    return expired


async def expire_holds(account: Account) -> None:
    rows = await account.session.exec(
        select(Hold).where(Hold.customer_id == account.customer_id, Hold.status == "active")
    )
    for hold in rows.all():
        if hold.expires_at <= account.now:
            close_hold(account, hold, "expired")


def close_hold(account: Account, hold: Hold, status: str) -> None:
    account.wallet.held -= hold.remaining
    hold.remaining = ZERO
    hold.status = status
    hold.closed_at = account.now
    account.session.add(hold)
