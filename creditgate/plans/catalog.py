"""Plan versions in the database; versions are immutable, so they are cached forever."""

from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from creditgate.infra.db import Database
from creditgate.ledger.errors import Conflict, LedgerError, NotFound
from creditgate.models import Plan
from creditgate.pricing.currency import minor_unit_exponent
from creditgate.pricing.plan import PlanDefinition

_cache: dict[tuple[str, int], PlanDefinition] = {}


def _check(definition: PlanDefinition) -> None:
    from creditgate.pricing.rating import PlanError, validate_plan

    try:
        validate_plan(definition)
    except PlanError as err:
        raise LedgerError(str(err)) from err
    if definition.spend_limit is not None and definition.billing != "arrears":
        raise LedgerError("spend_limit applies to arrears plans only (billing: arrears)")
    if definition.credit_unit is not None:
        try:
            minor_unit_exponent(definition.currency)
        except ValueError:
            raise LedgerError(
                "a plan with a credit_unit sells credits for money: currency must be a "
                f"three-letter ISO code, not {definition.currency!r}"
            ) from None


async def latest_version(session: AsyncSession, code: str) -> Plan | None:
    return (
        await session.exec(
            select(Plan).where(Plan.code == code).order_by(col(Plan.version).desc()).limit(1)
        )
    ).first()


async def get_plan(session: AsyncSession, code: str, version: int | None = None) -> Plan:
    if version is None:
        plan = await latest_version(session, code)
    else:
        plan = (
            await session.exec(select(Plan).where(Plan.code == code, Plan.version == version))
        ).first()
    if plan is None:
        suffix = f" version {version}" if version is not None else ""
        raise NotFound(f"no plan {code!r}{suffix}")
    return plan


async def definition(session: AsyncSession, code: str, version: int) -> PlanDefinition:
    cached = _cache.get((code, version))
    if cached is None:
        plan = await get_plan(session, code, version)
        cached = _cache[(code, version)] = PlanDefinition.model_validate(plan.definition)
    return cached


async def cached_definition(conn: AsyncConnection, code: str, version: int) -> PlanDefinition:
    """The same as ``definition`` for Core connections (the ledger's hot path)."""
    cached = _cache.get((code, version))
    if cached is None:
        table = Plan.__table__  # type: ignore[attr-defined]
        row = (
            await conn.execute(
                sa_select(table.c.definition).where(
                    table.c.code == code, table.c.version == version
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no plan {code!r} version {version}")
        cached = _cache[(code, version)] = PlanDefinition.model_validate(row[0])
    return cached


async def create_plan(db: Database, plan_def: PlanDefinition) -> Plan:
    """Version 1 of a new plan; 409 when the code exists (add a version instead)."""
    _check(plan_def)
    try:
        async with db.transaction() as session:
            plan = _row(plan_def, 1)
            session.add(plan)
    except IntegrityError as err:
        raise Conflict(
            f"plan {plan_def.code!r} exists; POST /v1/plans/{plan_def.code}/versions adds a version"
        ) from err
    return plan


async def add_version(db: Database, code: str, plan_def: PlanDefinition) -> Plan:
    if plan_def.code != code:
        raise LedgerError(f"body code {plan_def.code!r} does not match the URL's {code!r}")
    _check(plan_def)
    for _attempt in range(5):
        try:
            async with db.transaction() as session:
                current = (
                    await session.exec(select(func.max(Plan.version)).where(Plan.code == code))
                ).one()
                if current is None:
                    raise NotFound(f"no plan {code!r}")
                plan = _row(plan_def, current + 1)
                session.add(plan)
            return plan
        except IntegrityError:
            continue  # a concurrent version took the number; take the next
    raise Conflict("too many concurrent versions of this plan; retry")


def _row(plan_def: PlanDefinition, version: int) -> Plan:
    return Plan(
        code=plan_def.code,
        version=version,
        name=plan_def.name,
        currency=plan_def.currency,
        definition=plan_def.model_dump(mode="json"),
    )
