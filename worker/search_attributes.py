"""Register Creditgate's search attributes on the namespace (idempotent)."""

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from workflows.search_attributes import ALL

log = logging.getLogger(__name__)


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing: dict[str, IndexedValueType.ValueType] = {
        key.name: IndexedValueType.ValueType(
            SearchAttributeIndexedValueType(key.indexed_value_type)
        )
        for key in ALL
        if key.name not in existing.custom_attributes
    }
    if not missing:
        return
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
    )
    log.info("registered search attributes %s", ", ".join(sorted(missing)))
