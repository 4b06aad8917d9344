from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, text
from sqlmodel import Field

from creditgate.infra.sqltypes import UTCDateTime
from creditgate.values.money import Money


def utcnow() -> datetime:
    return datetime.now(UTC)


def money_field(default: Decimal = Decimal(0), **kwargs: Any) -> Any:
    return Field(default=default, sa_type=Money, **kwargs)


def timestamp_field(**kwargs: Any) -> Any:
    kwargs.setdefault("default_factory", utcnow)
    return Field(sa_type=UTCDateTime, **kwargs)


def metadata_field() -> Any:
    """String key/value pairs a client attaches (``metadata_``: SQLModel reserves ``metadata``),
    stored in a JSON column named ``metadata``; ``{}`` when none were given."""
    column = Column("metadata", JSON, nullable=False, default=dict, server_default=text("'{}'"))
    return Field(default_factory=dict, sa_column=column)
