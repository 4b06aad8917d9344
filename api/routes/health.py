from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DbDep, TemporalConnection

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request, db: DbDep) -> JSONResponse:
    """Liveness with dependencies: the database and Temporal must both answer."""
    checks: dict[str, str] = {}
    try:
        async with db.session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"error: {err.__class__.__name__}"
    try:
        connection: TemporalConnection = request.app.state.temporal
        client = await connection.get()
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"error: {err.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )
