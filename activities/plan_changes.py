"""Plan change activity: validate the new plan against the customer's wallet and store it as
the plan the next period close applies."""

from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.ledger import tables as t
from creditgate.ledger.customers import get_customer
from creditgate.ledger.errors import NotFound
from creditgate.models import Wallet
from creditgate.plans import catalog as plans
from messages.plan_change import ScheduledPlan, SchedulePlanInput

# ApplicationError types the API turns into 4xx answers.
UNKNOWN_PLAN = "UnknownPlan"
UNIT_MISMATCH = "WalletUnitMismatch"


async def check_plan_change(db: Database, input: SchedulePlanInput) -> ScheduledPlan:
    """The plan and version to move to; raises ``ApplicationError`` (non-retryable) when the
    plan is unknown or its wallet unit is not the wallet's."""
    async with db.session() as session:
        stored = await get_customer(session, input.external_id)
        if stored is None:
            raise ApplicationError(
                f"no customer {input.external_id!r}", type=UNKNOWN_PLAN, non_retryable=True
            )
        try:
            plan = await plans.get_plan(session, input.plan, input.version)
            definition = await plans.definition(session, plan.code, plan.version)
        except NotFound as err:
            raise ApplicationError(str(err), type=UNKNOWN_PLAN, non_retryable=True) from None
        wallet = (
            await session.exec(select(Wallet).where(Wallet.customer_id == stored.customer.id))
        ).one()
    if definition.wallet_unit != wallet.currency:
        raise ApplicationError(
            f"plan {plan.code!r} version {plan.version} keeps balances in "
            f"{definition.wallet_unit!r} but the wallet holds {wallet.currency!r}; a plan "
            "change cannot convert a balance",
            type=UNIT_MISMATCH,
            non_retryable=True,
        )
    return ScheduledPlan(plan=plan.code, version=plan.version)


class PlanChangeActivities:
    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn
    async def schedule_plan(self, input: SchedulePlanInput) -> ScheduledPlan:
        scheduled = await check_plan_change(self.db, input)
        c = t.customers.c
        async with self.db.write() as conn:
            await conn.execute(
                t.customers.update()
                .where(c.external_id == input.external_id)
                .values(next_plan_code=scheduled.plan, next_plan_version=scheduled.version)
            )
        return scheduled
