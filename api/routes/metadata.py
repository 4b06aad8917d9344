"""Changing the metadata of a grant or a purchase (a customer's is part of its ``PATCH``)."""

from typing import Annotated

from fastapi import APIRouter, Path
from sqlmodel import col, select

from api.deps import DbDep
from api.errors import ApiError
from api.schemas.common import ERRORS, PurchaseIdPath
from api.schemas.ledger import GrantPublic
from api.schemas.metadata import MetadataUpdate, merged
from api.schemas.payments import PurchasePublic
from creditgate.models import Grant, Purchase

router = APIRouter(tags=["metadata"], responses=ERRORS)
# grants.id is an INTEGER on both databases.
GrantIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.patch("/grants/{grant_id}", response_model=GrantPublic)
async def update_grant(grant_id: GrantIdPath, body: MetadataUpdate, db: DbDep) -> GrantPublic:
    """Merge ``metadata`` into the grant's: a key set to ``""`` is removed, null clears all."""
    async with db.transaction() as session:
        query = select(Grant).where(col(Grant.id) == grant_id).with_for_update()
        grant = (await session.exec(query)).first()
        if grant is None:
            raise ApiError(404, "not_found", f"no grant {grant_id}")
        grant.metadata_ = merged(grant.metadata_, body.metadata)
        session.add(grant)
        await session.flush()
        return GrantPublic.of(grant, grant.metadata_)


@router.patch("/purchases/{purchase_id}", response_model=PurchasePublic)
async def update_purchase(
    purchase_id: PurchaseIdPath, body: MetadataUpdate, db: DbDep
) -> PurchasePublic:
    """Merge ``metadata`` into the purchase's: a key set to ``""`` is removed, null clears all."""
    async with db.transaction() as session:
        query = select(Purchase).where(col(Purchase.id) == purchase_id).with_for_update()
        purchase = (await session.exec(query)).first()
        if purchase is None:
            raise ApiError(404, "not_found", f"no purchase {purchase_id!r}")
        purchase.metadata_ = merged(purchase.metadata_, body.metadata)
        session.add(purchase)
        await session.flush()
        return PurchasePublic.of(purchase)
