import stripe
from sqlalchemy.exc import DBAPIError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from creditgate.infra.db import Database
from creditgate.infra.db_errors import refused_data
from creditgate.ledger import customers
from creditgate.payments.stripe_gateway import StripeGateway
from messages.customer import CreateStripeCustomerInput, RegisterCustomerInput, RegisteredCustomer

# The customer's data can never be stored (Stripe or the database refuses it): retrying would
# go on forever, so the signup fails and its external id can be signed up again.
UNSTORABLE_CUSTOMER = "UnstorableCustomer"


class CustomerActivities:
    def __init__(self, db: Database, stripe: StripeGateway) -> None:
        self.db = db
        self.stripe = stripe

    @activity.defn
    async def create_stripe_customer(self, input: CreateStripeCustomerInput) -> str:
        try:
            ref = await self.stripe.create_customer(
                external_id=input.external_id,
                name=input.name,
                email=input.email,
                idempotency_key=input.idempotency_key,
            )
        except stripe.InvalidRequestError as err:
            raise ApplicationError(
                f"Stripe refused the customer: {err.user_message or err}",
                type=UNSTORABLE_CUSTOMER,
                non_retryable=True,
            ) from err
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
        except DBAPIError as err:
            if not refused_data(err):
                raise  # an outage: retried until the database is back
            raise ApplicationError(
                f"the database refused the customer: {err.orig}",
                type=UNSTORABLE_CUSTOMER,
                non_retryable=True,
            ) from err
        assert stored.customer.id is not None
        return RegisteredCustomer(
            customer_id=stored.customer.id,
            status=stored.customer.status,
            entitled=stored.wallet.entitled,
        )
