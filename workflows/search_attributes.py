"""Typed search attributes operators filter on in the Temporal UI."""

from temporalio.common import SearchAttributeKey

CUSTOMER_ID = SearchAttributeKey.for_keyword("CreditgateCustomerId")
STATUS = SearchAttributeKey.for_keyword("CreditgateStatus")
ENTITLED = SearchAttributeKey.for_bool("CreditgateEntitled")
# enabled | disabled | failed (disabled after the last declined attempt)
AUTO_RECHARGE = SearchAttributeKey.for_keyword("CreditgateAutoRecharge")

ALL = (CUSTOMER_ID, STATUS, ENTITLED, AUTO_RECHARGE)
