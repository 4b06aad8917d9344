"""Customer and wallet persistence."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.events import alerts
from creditgate.events.catalogue import CustomerCreated, EventType
from creditgate.events.store import insert_events
from creditgate.infra.db import Database
from creditgate.models import Customer, Wallet
from creditgate.plans.catalog import latest_version
from creditgate.pricing.plan import PlanDefinition


class UnknownPlan(LookupError):
    pass


@dataclass(frozen=True)
class CustomerWithWallet:
    customer: Customer
    wallet: Wallet


async def get_customer(session: AsyncSession, external_id: str) -> CustomerWithWallet | None:
    row = (
        await session.exec(
            select(Customer, Wallet)
            .join(Wallet, Wallet.customer_id == Customer.id)  # type: ignore[arg-type]
            .where(Customer.external_id == external_id)
        )
    ).first()
    if row is None:
        return None
    return CustomerWithWallet(customer=row[0], wallet=row[1])


async def register_customer(
    db: Database,
    *,
    external_id: str,
    name: str,
    email: str,
    plan: str,
    stripe_customer_id: str,
    workflow_id: str,
) -> CustomerWithWallet:
    """Insert the customer and an empty wallet once; later calls return what is stored."""
    async with db.session() as session:
        existing = await get_customer(session, external_id)
        if existing is not None:
            return existing
    try:
        async with db.transaction() as session:
            plan_row = await latest_version(session, plan)
            if plan_row is None:
                raise UnknownPlan(f"no plan {plan!r}")
            customer = Customer(
                external_id=external_id,
                name=name,
                email=email,
                plan_code=plan,
                plan_version=plan_row.version,
                stripe_customer_id=stripe_customer_id,
                workflow_id=workflow_id,
            )
            session.add(customer)
            await session.flush()
            assert customer.id is not None
            plan_def = PlanDefinition.model_validate(plan_row.definition)
            limit = plan_def.spend_limit if plan_def.billing == "arrears" else Decimal(0)
            rules = [threshold.stored() for threshold in plan_def.alerts] or None
            wallet = Wallet(
                alert_rules=rules,
                alert_amounts=alerts.resolve(rules, None),
                customer_id=customer.id,
                currency=plan_def.wallet_unit,
                credit_limit=limit,
                entitled=limit is None or limit > 0,
            )
            session.add(wallet)
            await session.flush()
            # The customer's first event, in the transaction that stores it.
            created = CustomerCreated(
                name=name,
                email=email,
                plan=plan,
                status=customer.status,
                entitled=wallet.entitled,
            )
            await insert_events(
                await session.connection(),
                [
                    {
                        "customer_id": customer.id,
                        "external_id": external_id,
                        "type": str(EventType.customer_created),
                        "key": "customer.created",
                        "data": created.dump(),
                    }
                ],
                customer.created_at,
            )
        return CustomerWithWallet(customer=customer, wallet=wallet)
    except IntegrityError:
        # A concurrent attempt (an activity retry racing its predecessor) won.
        async with db.session() as session:
            stored = await get_customer(session, external_id)
        if stored is None:
            raise
        return stored
