"""The JSON error shape ``{"error": {"type", "message"}}`` for every failure."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.media import NOT_JSON, sent_json

log = logging.getLogger("creditgate.api")

# Every 503 is an outage the client may retry (ids and idempotency keys make retries safe);
# this tells it when.
RETRY_AFTER_SECONDS = 5
# Temporal answers that mean it is down, restarting or overloaded, not that the call is wrong.
TEMPORAL_OUTAGE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.ABORTED,
    }
)

_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.type = type
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        return error_response(self.status, self.type, self.message, self.headers, **self.extra)


def error_response(
    status: int, type: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"error": {"type": type, "message": message, **extra}}
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    more = len(errors) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "request body is not valid JSON")
    if not sent_json(request.scope) and any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        # FastAPI only parses JSON sent as JSON; say so instead of "not a valid object".
        return error_response(415, "unsupported_media_type", NOT_JSON)
    fields = [
        {"loc": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")} for e in errors
    ]
    return error_response(422, "validation_error", _describe(errors), fields=fields)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _TYPES.get(exc.status_code, "error" if exc.status_code < 500 else "internal_error")
    message = exc.detail if isinstance(exc.detail, str) else kind.replace("_", " ")
    return error_response(exc.status_code, kind, message, headers=getattr(exc, "headers", None))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error (this is a bug)")


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    if exc.status not in TEMPORAL_OUTAGE:
        return await _unexpected(request, exc)
    log.warning("Temporal unavailable: %s", exc.message)
    return error_response(503, "temporal_unavailable", "Temporal is unreachable; retry shortly")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RPCError, _temporal_error)
    app.add_exception_handler(Exception, _unexpected)
