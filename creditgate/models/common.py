from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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
