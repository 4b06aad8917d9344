"""A database outage answers 503 with the JSON error shape (retryable), not a bare 500; a
bug answers 500 with the same shape."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from creditgate.ledger import reads
from creditgate.ledger.batcher import IngestBatcher
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


def test_an_unexpected_error_on_the_hot_routes_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The hot routes are answered ahead of FastAPI's middleware; a bug there still gets the
    app's JSON 500 (and its log line), not the server's bare one."""

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reads, "balance", broken)
    monkeypatch.setattr(IngestBatcher, "submit", broken)
    settings = Settings(api_key="outage-key", database_url=f"sqlite:///{tmp_path}/bug.db")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        event = {"id": "e1", "customer": "c1", "event_type": "api_call"}
        responses = [
            client.post("/v1/events", json={"events": [event]}, headers=KEY),
            client.get("/v1/customers/c1/balance", headers=KEY),
        ]
    for response in responses:
        assert response.status_code == 500, response.text
        assert response.json()["error"]["type"] == "internal_error"
