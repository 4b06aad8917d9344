"""What a receiver's Standard Webhooks library makes of Creditgate's signatures: a genuine
delivery verifies; a forged body, a foreign secret or a replayed (stale) delivery is refused."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from creditgate.webhooks.signing import headers, new_secret

BODY = json.dumps({"id": "evt_1", "type": "grant.created", "sequence": 2, "data": {}})


def test_a_genuine_delivery_verifies() -> None:
    secret = new_secret()
    sent = headers("evt_1", datetime.now(UTC), BODY, [secret])

    assert Webhook(secret).verify(BODY, sent)["id"] == "evt_1"


@pytest.mark.parametrize(
    "forgery",
    ["tampered body", "other secret", "replayed an hour later", "signed for the future"],
)
def test_forged_and_replayed_deliveries_are_refused(forgery: str) -> None:
    secret = new_secret()
    at = datetime.now(UTC)
    body = BODY
    signing = secret
    if forgery == "tampered body":
        body = BODY.replace('"sequence": 2', '"sequence": 3')
    elif forgery == "other secret":
        signing = new_secret()
    elif forgery == "replayed an hour later":
        at -= timedelta(hours=1)
    else:
        at += timedelta(hours=1)
    sent = headers("evt_1", at, BODY, [signing])

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, sent)


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    sent = headers("evt_1", datetime.now(UTC), BODY, [new, old])

    assert Webhook(old).verify(BODY, sent)["id"] == "evt_1"
    assert Webhook(new).verify(BODY, sent)["id"] == "evt_1"
