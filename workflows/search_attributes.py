"""Typed search attributes operators filter on in the Temporal UI."""

from temporalio.common import SearchAttributeKey

CUSTOMER_ID = SearchAttributeKey.for_keyword("CreditgateCustomerId")
STATUS = SearchAttributeKey.for_keyword("CreditgateStatus")
ENTITLED = SearchAttributeKey.for_bool("CreditgateEntitled")

ALL = (CUSTOMER_ID, STATUS, ENTITLED)
