"""LatePaymentWorkflow's messages: a succeeded PaymentIntent settled after its purchase gave up."""

from pydantic import BaseModel

from messages.purchase import PurchaseView


class SettledPayment(BaseModel):
    """A succeeded PaymentIntent's purchase, granted."""

    purchase: PurchaseView
    customer_workflow_id: str
    created: bool  # False when it had been granted already
    # Set when the customer's account is closing or closed: the payment goes back.
    closing_account: str | None = None
