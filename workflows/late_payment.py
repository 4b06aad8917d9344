"""LatePaymentWorkflow (``payment-{payment_intent}``): a PaymentIntent of ours succeeded after
the workflow that made it stopped waiting (it was still ``processing`` at the purchase's
timeout, so it could not be cancelled, and the purchase was marked failed; or that workflow is
gone). Started by the Stripe webhook and by the worker's reconciliation; the id makes it one
per PaymentIntent. It reads the PaymentIntent from Stripe and, if it succeeded, grants its
purchase: the grant is keyed by the purchase, so whoever grants first, it is granted once.
A payment to an account that is closing or closed is refunded right after (its unspent
credits, all of them: nothing can be spent any more), as the closure refunds purchases.
"""

from temporalio import workflow

from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.closure import ClosureActivities
    from activities.payments import PaymentActivities
    from messages.closure import ClosureRefundInput
    from messages.purchase import PurchaseProgress, PurchaseView

# Runs from before a payment to a closing or closed account was refunded.
CLOSED_ACCOUNT_PATCH = "refund-payment-of-closed-account-v1"


def late_payment_workflow_id(payment_intent: str) -> str:
    return f"payment-{payment_intent}"


@workflow.defn
class LatePaymentWorkflow:
    @workflow.run
    async def run(self, payment_intent: str) -> str | None:
        """The purchase granted, or None when the PaymentIntent is not a succeeded one of ours."""
        settled = await call(PaymentActivities.settle_paid_intent, payment_intent)
        if settled is None:
            return None
        purchase = settled.purchase
        if settled.closing_account is not None and workflow.patched(CLOSED_ACCOUNT_PATCH):
            # Paid after its account started closing: the closure's refund, once, by the
            # same key (if the closure's own refund step has not made it already).
            await call(
                ClosureActivities.refund_unspent,
                ClosureRefundInput(external_id=settled.closing_account, purchase_id=purchase.id),
            )
            return purchase.id
        if purchase.kind == "purchase" and purchase.status == "granted":
            # The customer workflow's view of its purchases follows (its message id is the
            # one the purchase workflow would have used, so it is applied once).
            view = PurchaseView.model_validate(purchase.model_dump())
            customer = workflow.get_external_workflow_handle(settled.customer_workflow_id)
            try:
                await customer.signal(
                    "purchase_progress",
                    PurchaseProgress(message_id=f"{purchase.id}:granted", purchase=view),
                )
            except Exception:  # a closed customer: the grant is what matters
                workflow.logger.warning("customer workflow of %s not signalled", purchase.id)
        return purchase.id
