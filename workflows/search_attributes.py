"""Typed search attributes operators filter on in the Temporal UI."""

from temporalio.common import SearchAttributeKey

CUSTOMER_ID = SearchAttributeKey.for_keyword("CreditgateCustomerId")
STATUS = SearchAttributeKey.for_keyword("CreditgateStatus")
ENTITLED = SearchAttributeKey.for_bool("CreditgateEntitled")
# enabled | disabled | failed (disabled after the last declined attempt)
AUTO_RECHARGE = SearchAttributeKey.for_keyword("CreditgateAutoRecharge")

# Webhook delivery workflows: the endpoint, and delivering | retrying | failing | idle
# (failing: a delivery's last attempt failed; the customer's backlog waits for an operator).
WEBHOOK_ENDPOINT = SearchAttributeKey.for_keyword("CreditgateWebhookEndpoint")
WEBHOOK_STATUS = SearchAttributeKey.for_keyword("CreditgateWebhookStatus")

ALL = (CUSTOMER_ID, STATUS, ENTITLED, AUTO_RECHARGE, WEBHOOK_ENDPOINT, WEBHOOK_STATUS)
