"""Bodies of the ledger routes: events, holds, grants, balance, ledger, usage."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.amounts import PositiveAmountIn
from api.schemas.common import RequestBody, UtcDatetime
from api.schemas.metadata import Metadata
from creditgate.ledger.tables import GrantRow, HoldRow
from creditgate.ledger.usage import EventIn
from creditgate.models import Grant, Hold, LedgerEntry
from creditgate.values.identifiers import STORABLE, EventType, Properties
from creditgate.values.money import MoneyStr

Text = Annotated[str, StringConstraints(max_length=500, pattern=STORABLE)]
# Stored as "api:<key>" (200 characters).
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=196, pattern=STORABLE)]


class EventBatch(RequestBody):
    # Validated straight into the ledger's ``EventIn`` (a dataclass): a model per event plus
    # a copy into the ledger's type cost twice the CPU.
    events: Annotated[list[EventIn], Field(min_length=1, max_length=1000)]


class EventResultOut(BaseModel):
    id: str
    status: Literal["debited", "duplicate", "rejected"]
    cost: MoneyStr | None = None
    balance_after: MoneyStr | None = None
    reason: str | None = None


class EventBatchResult(BaseModel):
    results: list[EventResultOut]


class HoldCreate(RequestBody):
    """Either an ``amount`` or an example event (``event_type`` + ``properties``) to price."""

    amount: PositiveAmountIn | None = None
    event_type: EventType | None = None
    properties: Properties = Field(default_factory=dict)
    ttl_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] = 600
    description: Text | None = None
    # Or the Idempotency-Key header: the same key places one hold, returned again on repeats.
    idempotency_key: IdempotencyKey | None = None


class HoldPublic(BaseModel):
    id: str
    customer: str
    amount: MoneyStr
    remaining: MoneyStr
    status: str
    expires_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, hold: Hold | HoldRow, external_id: str) -> "HoldPublic":
        return cls(
            id=hold.id,
            customer=external_id,
            amount=hold.amount,
            remaining=hold.remaining,
            status=hold.status,
            expires_at=hold.expires_at,
            created_at=hold.created_at,
        )


class GrantCreate(RequestBody):
    amount: PositiveAmountIn
    priority: Annotated[int, Field(ge=0, le=1000)] = 10
    expires_at: UtcDatetime | None = None
    reason: Text | None = None
    source: Literal["promotional", "adjustment"] = "promotional"
    metadata: Metadata = {}


class BalanceGrant(BaseModel):
    """A grant as the balance lists it (the hot read leaves its metadata out)."""

    id: int
    amount: MoneyStr
    remaining: MoneyStr
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    source: str
    reason: str | None
    status: str


class GrantPublic(BalanceGrant):
    metadata: dict[str, str]

    @classmethod
    def of(cls, grant: Grant | GrantRow, metadata: dict[str, str]) -> "GrantPublic":
        fields = {name: getattr(grant, name) for name in cls.model_fields if name != "metadata"}
        return cls(**fields, metadata=metadata)


class BalancePublic(BaseModel):
    available: MoneyStr
    held: MoneyStr
    debt: MoneyStr
    entitled: bool
    currency: str
    grants: list[BalanceGrant]


class LedgerEntryPublic(BaseModel):
    id: int
    kind: str
    amount: MoneyStr
    balance_after: MoneyStr
    grant_id: int | None
    event_id: str | None
    hold_id: str | None
    allocations: list[dict[str, Any]] | None
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: LedgerEntry) -> "LedgerEntryPublic":
        assert entry.id is not None
        return cls.model_validate(entry, from_attributes=True)


class LedgerPage(BaseModel):
    data: list[LedgerEntryPublic]
    has_more: bool
    next_starting_after: int | None


class UsageLine(BaseModel):
    meter: str
    aggregation: str
    dimensions: dict[str, str]
    quantity: MoneyStr
    cost: MoneyStr
    events: int


class UsageSummary(BaseModel):
    customer: str
    currency: str
    start: datetime
    end: datetime
    group_by: list[str]
    usage: list[UsageLine]
    total_cost: MoneyStr
