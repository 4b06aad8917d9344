"""Standard Webhooks secrets and signatures (https://www.standardwebhooks.com)."""

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(message_id: str, at: datetime, body: str, signing_secrets: list[str]) -> dict[str, str]:
    """The ``webhook-*`` headers, signed with each secret (space-separated signatures, so a
    receiver holding either secret of a rotation verifies it)."""
    signatures = [Webhook(s).sign(message_id, at, body) for s in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
