"""The shapes of ids and names that arrive from clients (pydantic constraints).

Shared by the API's bodies and the ledger's ``EventIn``, which ``POST /v1/events`` validates
request bodies into.
"""

from typing import Annotated

from pydantic import StringConstraints

# External ids end up in workflow ids and URLs: keep them to a safe, readable alphabet.
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"),
]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
HoldId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
