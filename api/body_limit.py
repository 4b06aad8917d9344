"""Refuse oversized bodies up front with the JSON error shape (413)."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response


def too_large(max_bytes: int) -> JSONResponse:
    return error_response(
        413, "payload_too_large", f"request body is larger than {max_bytes} bytes"
    )


class ContentLengthLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if not value.isdigit() or int(value) > self.max_bytes:
                        await too_large(self.max_bytes)(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
