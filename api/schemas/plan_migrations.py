"""Bodies of the plan lifecycle routes: migrations between versions and simulations."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas.common import RequestBody
from creditgate.models import PlanMigration
from creditgate.values.money import MoneyStr

# A plan version: a JSON integer (``"1"`` or ``1.0`` is a 422, not a version).
Version = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]


class MigrationCreate(RequestBody):
    from_version: Version
    to_version: Version
    effective: Literal["now", "next_period"] = "now"


class MigrationPublic(BaseModel):
    id: str
    plan: str
    from_version: int
    to_version: int
    effective: str
    status: Literal["running", "completed", "failed"]
    total: int
    moved: int
    workflow_id: str
    error: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, row: PlanMigration) -> "MigrationPublic":
        return cls(
            id=row.id,
            plan=row.plan_code,
            from_version=row.from_version,
            to_version=row.to_version,
            effective=row.effective,
            status=row.status,
            total=row.total,
            moved=row.moved,
            workflow_id=row.workflow_id,
            error=row.error,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


class SimulationCreate(RequestBody):
    # ``start`` and ``end`` are taken for ``from`` and ``to`` too.
    model_config = ConfigDict(populate_by_name=True)

    version: Version
    start: Annotated[AwareDatetime, Field(alias="from")]
    end: Annotated[AwareDatetime, Field(alias="to")]


class CustomerSimulationPublic(BaseModel):
    external_id: str
    current_version: int
    current_amount: MoneyStr
    simulated_amount: MoneyStr
    difference: MoneyStr
    events: int
    unmeasured_events: int


class SimulationTotals(BaseModel):
    current: MoneyStr
    simulated: MoneyStr
    difference: MoneyStr


class SimulationPublic(BaseModel):
    plan: str
    version: int
    unit: str
    start: Annotated[datetime, Field(serialization_alias="from")]
    end: Annotated[datetime, Field(serialization_alias="to")]
    customers: list[CustomerSimulationPublic]
    totals: SimulationTotals
