from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import (
    CreateStripeCustomerInput,
    RegisterCustomerInput,
    RegisteredCustomer,
)
from creditgate import customers
from creditgate.db import Database
from creditgate.stripe_gateway import StripeGateway


class CustomerActivities:
    def __init__(self, db: Database, stripe: StripeGateway) -> None:
        self.db = db
        self.stripe = stripe

    @activity.defn
    async def create_stripe_customer(self, input: CreateStripeCustomerInput) -> str:
        ref = await self.stripe.create_customer(
            external_id=input.external_id,
            name=input.name,
            email=input.email,
            idempotency_key=input.idempotency_key,
        )
        return ref.id

    @activity.defn
    async def register_customer(self, input: RegisterCustomerInput) -> RegisteredCustomer:
        try:
            stored = await customers.register_customer(
                self.db,
                external_id=input.external_id,
                name=input.name,
                email=input.email,
                plan=input.plan,
                stripe_customer_id=input.stripe_customer_id,
                workflow_id=input.workflow_id,
            )
        except customers.UnknownPlan as err:
            raise ApplicationError(str(err), type="UnknownPlan", non_retryable=True) from err
        assert stored.customer.id is not None
        return RegisteredCustomer(
            customer_id=stored.customer.id,
            status=stored.customer.status,
            entitled=stored.wallet.entitled,
        )
