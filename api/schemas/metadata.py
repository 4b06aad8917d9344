"""Metadata: string key/value pairs a client attaches to a customer, grant or purchase.

Bounded as Stripe bounds its own: at most 50 keys, keys up to 40 characters, values up to 500,
no NUL. An update merges into what is stored: a key set to ``""`` is removed, and
``"metadata": null`` removes every key."""

from typing import Annotated

from pydantic import Field, StrictStr, StringConstraints

from api.errors import ApiError
from api.schemas.common import RequestBody
from creditgate.values.identifiers import STORABLE

MAX_KEYS = 50
MetadataKey = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40, pattern=STORABLE)]
MetadataValue = Annotated[StrictStr, StringConstraints(max_length=500, pattern=STORABLE)]
# As given when an object is created: an empty value is refused (it would mean "remove").
NewMetadataValue = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=500, pattern=STORABLE)
]
Metadata = Annotated[dict[MetadataKey, NewMetadataValue], Field(max_length=MAX_KEYS)]
MetadataPatch = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_KEYS)]


class MetadataUpdate(RequestBody):
    """``PATCH`` of a grant or a purchase: only its metadata changes."""

    metadata: MetadataPatch | None


def merged(stored: dict[str, str], patch: dict[str, str] | None) -> dict[str, str]:
    """``patch`` applied to ``stored``; a 422 if the result would hold more than 50 keys."""
    if patch is None:
        return {}
    result = {**stored, **patch}
    result = {key: value for key, value in result.items() if value != ""}
    if len(result) > MAX_KEYS:
        raise ApiError(
            422,
            "validation_error",
            f"metadata would hold {len(result)} keys; at most {MAX_KEYS} are allowed",
        )
    return result
