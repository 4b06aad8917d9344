"""A database outage answers 503 with the JSON error shape (retryable), not a bare 500."""

from fastapi.testclient import TestClient

from api.main import create_app
from creditgate.settings import Settings
from tests.support.ports import free_port

KEY = {"Authorization": "Bearer outage-key"}


def test_unreachable_database_answers_503_json() -> None:
    settings = Settings(
        api_key="outage-key", database_url=f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    )
    with TestClient(create_app(settings)) as client:
        event = {"id": "e1", "customer": "c1", "event_type": "api_call"}
        responses = [
            client.post("/v1/events", json={"events": [event]}, headers=KEY),
            client.get("/v1/customers/c1/balance", headers=KEY),
            client.get("/v1/customers/c1", headers=KEY),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["type"] == "database_unavailable"
