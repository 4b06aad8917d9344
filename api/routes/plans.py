"""Plans: meters and prices, in immutable versions."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import DbDep, SessionDep
from api.schemas.common import ERRORS, PlanCode
from api.schemas.plans import PlanBody, PlanPublic
from creditgate.plans import catalog as plans

router = APIRouter(prefix="/plans", tags=["plans"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_plan(body: PlanBody, db: DbDep) -> PlanPublic:
    """Create version 1 of a plan (409 if the code exists: add a version instead)."""
    return PlanPublic.of(await plans.create_plan(db, body))


@router.get("/{code}", response_model=PlanPublic)
async def read_plan(
    code: PlanCode,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> PlanPublic:
    """The latest version, or ``?version=N``."""
    return PlanPublic.of(await plans.get_plan(session, code, version))


@router.post("/{code}/versions", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create_version(code: PlanCode, body: PlanBody, db: DbDep) -> PlanPublic:
    """A new immutable version; existing customers stay on theirs until migrated."""
    return PlanPublic.of(await plans.add_version(db, code, body))
