"""Whether a request sends its body as JSON: one check for the routes and the hot path."""

from starlette.types import Scope

NOT_JSON = "send the body as JSON (Content-Type: application/json)"


def json_media(content_type: bytes) -> bool:
    """``application/json`` or any ``application/…+json``, whatever the parameters."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def sent_json(scope: Scope) -> bool:
    """The request's (first) ``Content-Type`` is JSON."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return json_media(value)
    return False
