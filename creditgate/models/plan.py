from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from creditgate.models.common import timestamp_field


class Plan(SQLModel, table=True):
    """One immutable version of a plan; ``definition`` is a ``pricing.PlanDefinition`` dump."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_plans_code_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=100, index=True)
    version: int
    name: str = Field(max_length=200)
    currency: str = Field(max_length=20)
    definition: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = timestamp_field()
