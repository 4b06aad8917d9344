"""LatePaymentWorkflow (``payment-{payment_intent}``): a PaymentIntent of ours succeeded after
the workflow that made it stopped waiting (it was still ``processing`` at the purchase's
timeout, so it could not be cancelled, and the purchase was marked failed; or that workflow is
gone). Started by the Stripe webhook and by the worker's reconciliation; the id makes it one
per PaymentIntent. It reads the PaymentIntent from Stripe and, if it succeeded, grants its
purchase: the grant is keyed by the purchase, so whoever grants first, it is granted once.
"""

from temporalio import workflow

from workflows.activity_calls import call

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from messages.purchase import PurchaseProgress, PurchaseView


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
