"""The shapes of ids and names that arrive from clients (pydantic constraints).

Shared by the API's bodies and the ledger's ``EventIn``, which ``POST /v1/events`` validates
request bodies into.
"""

import math
import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

# Text the databases can store: no NUL (PostgreSQL's text and jsonb refuse it) and no lone
# UTF-16 surrogate (not Unicode: neither database can encode it; pydantic-core refuses one, as
# a JSON escape or in a Python string, before any pattern).
STORABLE = r"^[^\x00]*$"
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")

# External ids end up in workflow ids and URLs: keep them to a safe, readable alphabet.
# (``api.hot_paths`` matches them in the balance URL with the same pattern and length.)
EXTERNAL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@+-]*"
EXTERNAL_ID_MAX_LENGTH = 200
ExternalId = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=EXTERNAL_ID_MAX_LENGTH, pattern=f"^{EXTERNAL_ID_PATTERN}$"
    ),
]
# Events are checked for NUL and non-finite numbers after parsing, once per request
# (``creditgate.ledger.usage.unstorable``): a pattern per field cost more than the rest of
# an event's validation.
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
HoldId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


def finite(value: Any) -> bool:
    """False if a NaN or an infinity is anywhere in ``value`` (parsed JSON)."""
    kind = type(value)
    if kind is float:
        return bool(value - value == 0.0)
    if kind is dict:
        return all(map(finite, value.values()))
    if kind is list:
        return all(map(finite, value))
    return True


def storable_json(value: Any) -> Any:
    """``value`` (parsed JSON) if both databases can store it as JSON; else ValueError.

    Refused: numbers beyond a float (``1e400``, ``-1e400``), ``NaN`` and ``Infinity``
    (PostgreSQL's jsonb has none of them; SQLite would store non-JSON text), and keys or
    strings with NUL or a lone surrogate, at any depth.
    """
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise ValueError("strings may not contain NUL (\\u0000) or a lone surrogate")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite (no NaN, Infinity or beyond ±1.8e308)")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_json(key)
            storable_json(item)
    elif isinstance(value, list):
        for item in value:
            storable_json(item)
    return value


# A hold estimate's properties: any JSON object of up to 50 keys that the databases can store.
Properties = Annotated[dict[str, Any], Field(max_length=50), AfterValidator(storable_json)]


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text and UTF-8 cannot carry a lone surrogate; other control
    # characters (newlines, escapes) have no place in a stored name either.
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError("must not contain control characters, NUL or lone surrogates")
    return value


# A person's or company's name as stored in the ledger and sent to Stripe.
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
