"""The audit log: every change through the API, with its actor and request id; refused
requests and usage are not entries."""

import subprocess
import sys

import httpx

from tests.access.support import bearer, event, issue
from tests.ledger.support import Ledger, serve_api


async def test_every_change_is_recorded_with_its_actor_and_request_id(ledger: Ledger) -> None:
    customer = ledger.customer
    async with serve_api(ledger) as http:
        ops = bearer(await issue(http, "admin", name="ops-team"))
        ingest = bearer(await issue(http, "ingest", name="meter"))
        granted = await http.post(
            f"/v1/customers/{customer}/grants",
            json={"amount": "5", "reason": "goodwill"},
            headers={**ops, "X-Request-Id": "req-support-4711"},
        )
        refused = await http.post(
            f"/v1/customers/{customer}/grants", json={"amount": "-5"}, headers=ops
        )
        await http.post("/v1/events", json={"events": [event(customer, 1)]}, headers=ingest)
        await http.post(f"/v1/customers/{customer}/holds", json={"amount": "1"}, headers=ingest)
        log = (await http.get("/v1/audit-log")).json()["entries"]

    assert granted.status_code == 201 and granted.headers["x-request-id"] == "req-support-4711"
    assert refused.status_code == 422 and refused.headers["x-request-id"].startswith("req_")
    newest = log[0]
    assert newest["actor"] == "ops-team"
    assert newest["action"] == "POST /v1/customers/{external_id}/grants"
    assert newest["target"] == f"/v1/customers/{customer}/grants"
    assert newest["request_id"] == "req-support-4711"
    assert newest["status"] == 201
    assert newest["details"] == {"amount": "5", "reason": "goodwill"}
    # The two keys created by the bootstrap key, then the grant: nothing for the refusal,
    # the usage event or the hold.
    assert [(e["actor"], e["action"]) for e in reversed(log)] == [
        ("bootstrap", "POST /v1/api-keys"),
        ("bootstrap", "POST /v1/api-keys"),
        ("ops-team", "POST /v1/customers/{external_id}/grants"),
    ]
    assert log[-1]["details"] == {"name": "ops-team", "scope": "admin"}


async def test_the_log_filters_and_pages_newest_first(ledger: Ledger) -> None:
    async with serve_api(ledger) as http:
        for n in range(5):
            await http.post(
                f"/v1/customers/{ledger.customers[n % 2]}/grants", json={"amount": f"{n + 1}"}
            )
        first = (await http.get("/v1/audit-log", params={"limit": 2})).json()
        second = (
            await http.get("/v1/audit-log", params={"limit": 2, "before": first["next_before"]})
        ).json()
        third = (
            await http.get("/v1/audit-log", params={"limit": 2, "before": second["next_before"]})
        ).json()
        one_customer = (
            await http.get(
                "/v1/audit-log", params={"target": f"/v1/customers/{ledger.customers[1]}/"}
            )
        ).json()
        nobody = (await http.get("/v1/audit-log", params={"actor": "nobody"})).json()
        bad = await http.get("/v1/audit-log", params={"limit": 0})

    amounts = [e["details"]["amount"] for page in (first, second, third) for e in page["entries"]]
    assert amounts == ["5", "4", "3", "2", "1"]
    assert third["next_before"] is None
    assert [e["details"]["amount"] for e in one_customer["entries"]] == ["4", "2"]
    assert nobody == {"entries": [], "next_before": None}
    assert bad.status_code == 422


def creditgate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditgate.devtools.cli", "keys", *args],
        env={"CREDITGATE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_keys_command_issues_lists_and_revokes(ledger: Ledger) -> None:
    url = ledger.db.url
    created = creditgate(url, "create", "--name", "reporting", "--scope", "read")
    key = created.stdout.split("keep it secret): ")[1].strip()
    key_id = created.stdout.split()[0]
    listed = creditgate(url, "list")
    async with serve_api(ledger) as http:
        path = f"/v1/customers/{ledger.customer}/balance"
        before = await http.get(path, headers=bearer(key))
        revoked = creditgate(url, "revoke", key_id)
        after = await http.get(path, headers=bearer(key))
        log = (await http.get("/v1/audit-log")).json()["entries"]
    unknown = creditgate(url, "revoke", "key_ffff")

    assert created.returncode == 0, created.stderr
    assert listed.returncode == 0 and "reporting" in listed.stdout and key not in listed.stdout
    assert (before.status_code, revoked.returncode, after.status_code) == (200, 0, 401)
    assert [e["action"] for e in log] == ["keys revoke", "keys create"]
    assert all(e["actor"].startswith("cli:") for e in log)
    assert unknown.returncode == 1


async def test_an_anonymous_request_changes_nothing_and_is_not_logged(ledger: Ledger) -> None:
    async with serve_api(ledger) as http:
        refused = await http.post(
            f"/v1/customers/{ledger.customer}/grants",
            json={"amount": "5"},
            headers={"Authorization": "Bearer cg_not_a_key"},
        )
        log = (await http.get("/v1/audit-log")).json()

    assert refused.status_code == 401
    assert log["entries"] == []
    assert isinstance(refused, httpx.Response)
