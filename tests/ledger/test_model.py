"""The ledger against a tiny reference model, over random sequences of operations (SQLite).

The model below is written from the domain's rules, independently of ``creditgate.ledger.burn``:
grants burn smallest priority first, then earliest expiry (never-expiring last), then oldest;
usage beyond the grants is debt that the next grant pays first; a hold reserves available
funds, usage naming it settles against it, a release or expiry gives back the rest.
"""

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import col, select

from creditgate.checks.ledger import check
from creditgate.devtools.migrate import upgrade
from creditgate.infra.db import Database
from creditgate.ledger import service
from creditgate.ledger.errors import InsufficientFunds
from creditgate.ledger.usage import EventIn
from creditgate.models import Grant, Hold
from tests.ledger.support import Ledger, make_ledger, utcnow
from tests.support.plans import CALL_PRICE, TOKEN_PRICE

D = Decimal
ZERO = D(0)


# -- the reference model -----------------------------------------------------------------------


@dataclass
class ModelGrant:
    id: int
    amount: Decimal
    remaining: Decimal
    priority: int
    expires_at: datetime | None
    status: str  # active | depleted | expired


@dataclass
class ModelHold:
    id: str
    amount: Decimal
    remaining: Decimal
    status: str  # active | released | expired


class Model:
    def __init__(self) -> None:
        self.balance = ZERO
        self.held = ZERO
        self.grants: dict[int, ModelGrant] = {}
        self.holds: dict[str, ModelHold] = {}
        self.costs: dict[str, Decimal] = {}  # event id → cost (accepted events)
        self.entitled = False
        self.status = "active"

    @property
    def debt(self) -> Decimal:
        return -self.balance if self.balance < 0 else ZERO

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    def burn_order(self) -> list[ModelGrant]:
        far = datetime.max
        live = [g for g in self.grants.values() if g.status == "active"]
        # Ids grow with creation time, so the id stands for "oldest".
        return sorted(
            live,
            key=lambda g: (
                g.priority,
                0 if g.expires_at is not None else 1,
                g.expires_at.replace(tzinfo=None) if g.expires_at else far,
                g.id,
            ),
        )

    def _settle_entitlement(self) -> None:
        now_entitled = self.balance > 0
        if self.entitled and not now_entitled:
            self.status = "cut_off"
        elif now_entitled and not self.entitled:
            self.status = "active"
        self.entitled = now_entitled

    def grant(
        self, grant_id: int, amount: Decimal, priority: int, expires: datetime | None
    ) -> None:
        paid = min(self.debt, amount)
        remaining = amount - paid
        status = "active" if remaining > 0 else "depleted"
        self.grants[grant_id] = ModelGrant(grant_id, amount, remaining, priority, expires, status)
        self.balance += amount
        self._settle_entitlement()

    def usage(self, event_id: str, cost: Decimal, hold_id: str | None) -> str:
        if event_id in self.costs:
            return "duplicate"
        hold = self.holds.get(hold_id) if hold_id else None
        if hold is not None and hold.status == "active":
            settled = min(cost, hold.remaining)
            hold.remaining -= settled
            self.held -= settled
        left = cost
        for grant in self.burn_order():
            if left == 0:
                break
            taken = min(grant.remaining, left)
            grant.remaining -= taken
            left -= taken
            if grant.remaining == 0:
                grant.status = "depleted"
        self.balance -= cost
        self.costs[event_id] = cost
        self._settle_entitlement()
        return "debited"

    def can_hold(self, amount: Decimal) -> bool:
        return amount <= self.available

    def hold(self, hold_id: str, amount: Decimal) -> None:
        self.holds[hold_id] = ModelHold(hold_id, amount, amount, "active")
        self.held += amount
        self._settle_entitlement()

    def close_hold(self, hold_id: str, status: str) -> None:
        hold = self.holds[hold_id]
        if hold.status == "active":
            self.held -= hold.remaining
            hold.remaining = ZERO
            hold.status = status
        self._settle_entitlement()

    def expire_grant(self, grant_id: int) -> None:
        grant = self.grants[grant_id]
        if grant.status == "active":
            self.balance -= grant.remaining
            grant.remaining = ZERO
            grant.status = "expired"
        self._settle_entitlement()


# -- the machine -------------------------------------------------------------------------------

cents = st.integers(min_value=1, max_value=400).map(lambda n: D(n) / 100)


class LedgerMachine(RuleBasedStateMachine):
    template: ClassVar[Path]
    external_id: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="creditgate-model-"))
        for part in self.template.parent.glob(self.template.name + "*"):
            shutil.copy(part, self.dir / part.name)
        url = f"sqlite:///{self.dir / self.template.name}"
        self.ledger = Ledger(Database(url), [self.external_id])
        self.model = Model()
        self.base = utcnow()
        self.next_event = 0

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            assert self.run(check(self.ledger.db)) == []
        finally:
            self.run(self.ledger.db.dispose())
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(amount=cents)
    def opening_grant(self, amount: Decimal) -> None:
        self.add_grant(amount, 10, None)

    # -- grants ------------------------------------------------------------------------------

    @rule(
        amount=cents,
        priority=st.sampled_from([1, 10, 10, 20]),
        expires_in=st.none() | st.integers(min_value=1, max_value=6),
    )
    def add_grant(self, amount: Decimal, priority: int, expires_in: int | None) -> None:
        expires = self.base + timedelta(hours=expires_in) if expires_in is not None else None
        granted = self.run(
            self.ledger.grant(amount, priority=priority, expires_at=expires, source="adjustment")
        )
        assert granted.id is not None and granted.id not in self.model.grants
        self.model.grant(granted.id, amount, priority, expires)

    def expirable(self) -> list[int]:
        return sorted(
            g.id for g in self.model.grants.values() if g.expires_at and g.status != "expired"
        )

    @precondition(lambda self: bool(self.expirable()))
    @rule(data=st.data())
    def expire_grant(self, data: st.DataObject) -> None:
        grant_id = data.draw(st.sampled_from(self.expirable()))
        self.run(self.ledger.backdate_grant(grant_id, utcnow() - timedelta(seconds=1)))
        expired = self.run(service.expire(self.ledger.db, self.external_id))
        was_active = self.model.grants[grant_id].status == "active"
        assert [g.id for g in expired] == ([grant_id] if was_active else [])
        self.model.expire_grant(grant_id)

    # -- usage -------------------------------------------------------------------------------

    def hold_ids(self) -> list[str]:
        # Creation order: hold ids are random, so sorting them would make draws unrepeatable.
        return list(self.model.holds)

    @rule(
        tokens=st.integers(min_value=0, max_value=3000),
        calls=st.booleans(),
        data=st.data(),
    )
    def usage(self, tokens: int, calls: bool, data: st.DataObject) -> None:
        hold_id: str | None = None
        holds = self.hold_ids()
        against_hold: bool = bool(holds) and data.draw(st.booleans(), label="against a hold")
        if against_hold:
            hold_id = data.draw(st.sampled_from(holds), label="hold")
        self.next_event += 1
        event_id = f"e{self.next_event}"
        if calls:
            event = EventIn(event_id, self.external_id, "api_call", hold_id=hold_id)
            cost = CALL_PRICE
        else:
            properties = {"count": tokens, "model": "m1"}
            event = EventIn(event_id, self.external_id, "tokens", None, properties, hold_id)
            cost = tokens * TOKEN_PRICE
        (result,) = self.run(service.ingest(self.ledger.db, [event]))
        assert result.status == self.model.usage(event_id, cost, hold_id)
        assert result.cost == cost
        assert result.balance_after == self.model.balance

    @precondition(lambda self: bool(self.model.costs))
    @rule(data=st.data())
    def repeat_usage(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.model.costs)))
        event = EventIn(event_id, self.external_id, "tokens", None, {"count": 5, "model": "m1"})
        (result,) = self.run(service.ingest(self.ledger.db, [event]))
        assert result.status == "duplicate" == self.model.usage(event_id, D(5), None)
        assert result.cost == self.model.costs[event_id]

    @rule(count=st.sampled_from([-1, "NaN", None, 10**16]))
    def rejected_usage(self, count: object) -> None:
        self.next_event += 1
        event = EventIn(f"e{self.next_event}", self.external_id, "tokens", None, {"count": count})
        (result,) = self.run(service.ingest(self.ledger.db, [event]))
        assert result.status == "rejected"

    # -- holds -------------------------------------------------------------------------------

    @rule(amount=cents)
    def place_hold(self, amount: Decimal) -> None:
        try:
            placed = self.run(
                service.hold(self.ledger.db, self.external_id, amount=amount, ttl_seconds=600)
            )
        except InsufficientFunds:
            assert not self.model.can_hold(amount)
            return
        assert self.model.can_hold(amount)
        self.model.hold(placed.id, amount)

    def active_holds(self) -> list[str]:
        return [h.id for h in self.model.holds.values() if h.status == "active"]

    @precondition(lambda self: bool(self.model.holds))
    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(self.hold_ids()))
        released = self.run(service.release_hold(self.ledger.db, hold_id))
        expected = self.model.holds[hold_id].status
        self.model.close_hold(hold_id, "released")
        assert released.status == (expected if expected != "active" else "released")

    @precondition(lambda self: bool(self.active_holds()))
    @rule(data=st.data())
    def expire_hold(self, data: st.DataObject) -> None:
        hold_id = data.draw(st.sampled_from(self.active_holds()))
        self.run(self.ledger.backdate_hold(hold_id, utcnow() - timedelta(seconds=1)))
        assert self.run(service.sweep_expired_holds(self.ledger.db)) == 1
        self.model.close_hold(hold_id, "expired")

    # -- what must agree after every step ----------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        customer, wallet = self.run(self.ledger.account())
        model = self.model
        assert wallet.balance == model.balance
        assert wallet.held == model.held
        assert wallet.debt == model.debt
        assert wallet.available == model.available
        assert wallet.entitled == model.entitled
        assert customer.status == model.status
        grants = {g.id: g for g in self.run(self.ledger.grants())}
        assert set(grants) == set(model.grants)
        for grant_id, expected in model.grants.items():
            stored = grants[grant_id]
            assert (stored.remaining, stored.status) == (expected.remaining, expected.status), (
                grant_id
            )
        holds = self.run(self._holds())
        assert {h.id: (h.remaining, h.status) for h in holds} == {
            h.id: (h.remaining, h.status) for h in model.holds.values()
        }

    async def _holds(self) -> list[Hold]:
        async with self.ledger.db.session() as session:
            rows = await session.exec(select(Hold).order_by(col(Hold.created_at)))
            return list(rows.all())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Migrate once, add the plan and one customer, then copy the file for every example."""
    path = tmp_path_factory.mktemp("model") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)

    async def fill() -> str:
        made = await make_ledger(url, customers=1)
        await made.db.dispose()  # checkpoints the WAL into the file
        return made.customer

    return path, asyncio.run(fill())


def test_ledger_matches_the_reference_model(template: tuple[Path, str]) -> None:
    LedgerMachine.template, LedgerMachine.external_id = template
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_grant_ids_grow_with_creation(template: tuple[Path, str]) -> None:
    """The model stands "oldest" in for the grant id; make sure that holds."""
    path, external_id = template
    target = path.parent / "ids.db"
    shutil.copy(path, target)

    async def go() -> list[Grant]:
        ledger = Ledger(Database(f"sqlite:///{target}"), [external_id])
        try:
            for _ in range(3):
                await ledger.grant("1")
            return await ledger.grants()
        finally:
            await ledger.db.dispose()

    grants = asyncio.run(go())
    assert [g.created_at for g in grants] == sorted(g.created_at for g in grants)
