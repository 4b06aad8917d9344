"""What every resource's bodies share: the error shape, the base of request bodies, path ids."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from creditgate.pricing.plan import Code

PlanCode = Code
# Ids the API made (``hold_…``, ``pur_…``, ``rch_…``, ``mig_…``), as path parameters: anything
# else is a 422 before it reaches a query (PostgreSQL refuses NUL in text with an error).
MADE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
HoldIdPath = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=MADE_ID_PATTERN)]
PurchaseIdPath = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=MADE_ID_PATTERN)
]
MigrationIdPath = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=MADE_ID_PATTERN)
]


# Every failure: ``{"error": {"type", "message", ...}}`` (``api.errors``), as JSON also where
# the route answers HTML, so the schema is written out rather than taken from a model.
ERROR_CONTENT = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        }
    }
}
# Declared on every router: the error shape of each failure the routes can answer.
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"content": ERROR_CONTENT, "description": "The request is refused (nothing changed)"},
    503: {"content": ERROR_CONTENT, "description": "The database or Temporal is unavailable"},
}


class RequestBody(BaseModel):
    """The base of every request body: a field the API does not know is a 422, not ignored.

    Fields are validated in pydantic's lax mode; a field that must not be coerced (``"1"``
    for a version) says ``Field(strict=True)``."""

    model_config = ConfigDict(extra="forbid")


def to_utc(value: datetime) -> datetime:
    """The instant in UTC (stored that way); refuses one UTC cannot hold (e.g. year 0)."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("datetime is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
