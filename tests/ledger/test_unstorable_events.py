"""Event input the databases cannot store is refused with a 4xx, per request or per event, and
never fails other clients' requests that share its group commit."""

import asyncio
from decimal import Decimal

from creditgate.checks.ledger import check
from creditgate.ledger.batcher import IngestBatcher
from creditgate.ledger.usage import EventIn
from creditgate.plans.catalog import create_plan
from creditgate.pricing.plan import Meter, PlanDefinition, Price
from tests.ledger.support import Ledger, serve_api

D = Decimal
JSON = {"Content-Type": "application/json"}

# Each is the JSON text of one event's fields besides ``customer``: NUL where PostgreSQL's text
# and jsonb refuse it, numbers JSON parsers turn into ±inf or NaN, lone surrogates.
CALL = '"id": "e", "event_type": "api_call"'
UNSTORABLE = {
    "nul in id": '"id": "a\\u0000b", "event_type": "api_call"',
    "nul in event type": '"id": "e", "event_type": "api\\u0000call"',
    "nul in hold id": f'{CALL}, "hold_id": "h\\u0000"',
    "lone surrogate in id": '"id": "\\uda8a-x", "event_type": "api_call"',
    "reversed surrogates in id": '"id": "\\udeb9\\uda8a", "event_type": "api_call"',
    "1e400": f'{CALL}, "properties": {{"unread": 1e400}}',
    "-1e400": f'{CALL}, "properties": {{"unread": -1e400}}',
    "NaN": f'{CALL}, "properties": {{"unread": NaN}}',
    "Infinity": f'{CALL}, "properties": {{"unread": Infinity}}',
    "nul in a property": f'{CALL}, "properties": {{"unread": "a\\u0000"}}',
    "nul in a key": f'{CALL}, "properties": {{"a\\u0000": 1}}',
    "nul deep down": f'{CALL}, "properties": {{"a": [{{"b": "\\u0000"}}]}}',
    "nul in a dimension": '"id": "e", "event_type": "tokens", '
    '"properties": {"count": 1, "model": "\\u0000"}',
    "lone surrogate in a property": f'{CALL}, "properties": {{"p": "\\ud800"}}',
}


async def test_unstorable_event_input_is_a_4xx_and_changes_nothing(ledger: Ledger) -> None:
    await ledger.grant("1")
    async with serve_api(ledger) as http:
        for name, fields in UNSTORABLE.items():
            body = f'{{"events": [{{"customer": "{ledger.customer}", {fields}}}]}}'
            response = await http.post("/v1/events", content=body, headers=JSON)
            assert 400 <= response.status_code < 500, (name, response.text)
            assert set(response.json()["error"]) >= {"type", "message"}, name
        # A valid surrogate pair is ordinary text, accepted.
        pair = {"id": "\U000b2ab9", "customer": ledger.customer, "event_type": "api_call"}
        response = await http.post("/v1/events", json={"events": [pair]})
        assert response.json()["results"][0]["status"] == "debited", response.text
    wallet = await ledger.wallet()
    assert wallet.balance == D("0.99")
    assert [e.event_id for e in await ledger.entries() if e.kind == "debit"] == ["\U000b2ab9"]
    assert await check(ledger.db) == []


async def test_bad_requests_do_not_fail_concurrent_good_ones(ledger: Ledger) -> None:
    """Well-formed requests sent beside ones carrying 1e400 in a property no meter reads all
    succeed (they share group commits with each other, never with a refused request)."""
    await ledger.grant("1")
    async with serve_api(ledger) as http:

        async def good(n: int) -> int:
            event = {"id": f"g{n}", "customer": ledger.customer, "event_type": "api_call"}
            return (await http.post("/v1/events", json={"events": [event]})).status_code

        async def bad(n: int) -> int:
            body = (
                f'{{"events": [{{"id": "b{n}", "customer": "{ledger.customer}", '
                '"event_type": "api_call", "properties": {"unread": 1e400}}]}'
            )
            return (await http.post("/v1/events", content=body, headers=JSON)).status_code

        statuses = await asyncio.gather(*(good(n) if n % 4 else bad(n) for n in range(96)))
    assert [s for n, s in enumerate(statuses) if n % 4] == [200] * 72
    assert set(s for n, s in enumerate(statuses) if not n % 4) == {422}
    assert (await ledger.wallet()).balance == D("0.28")
    assert await check(ledger.db) == []


HUGE_PLAN = PlanDefinition(
    code="ledger_test_huge",
    name="Huge prices",
    currency="USD",
    meters=[Meter(code="units", event_type="units", aggregation="sum", value_property="n")],
    prices=[Price(meter="units", model="per_unit", unit_amount=D(10) ** 15)],
)


async def test_a_cost_beyond_the_ledgers_range_is_rejected_per_event(ledger: Ledger) -> None:
    await create_plan(ledger.db, HUGE_PLAN)
    await ledger.execute(
        "UPDATE customers SET plan_code = :code WHERE external_id = :who",
        code=HUGE_PLAN.code,
        who=ledger.customer,
    )
    await ledger.grant("1")
    async with serve_api(ledger) as http:
        events = [
            # 10^15 × 10^15: no NUMERIC(38,18) holds it.
            {
                "id": "huge",
                "customer": ledger.customer,
                "event_type": "units",
                "properties": {"n": 10**15},
            },
            {
                "id": "small",
                "customer": ledger.customer,
                "event_type": "units",
                "properties": {"n": "0.000000000000001"},
            },
            # 9 × 10^19 fits, but the balance after it would not.
            {
                "id": "fits",
                "customer": ledger.customer,
                "event_type": "units",
                "properties": {"n": 90000},
            },
            {
                "id": "beyond",
                "customer": ledger.customer,
                "event_type": "units",
                "properties": {"n": 20000},
            },
        ]
        response = await http.post("/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "debited", "debited", "rejected"]
    assert "beyond" in results[0]["reason"]
    assert results[1]["balance_after"] == "0"
    assert (await ledger.wallet()).balance == D("-9E+19")
    assert await check(ledger.db) == []


async def test_a_failing_request_does_not_fail_the_others_in_its_group_commit(
    ledger: Ledger,
) -> None:
    """A request whose write the database refuses (here a trigger refuses one event id) fails
    alone: the requests that shared its transaction are run again on their own and succeed."""
    trigger = "CREATE TRIGGER poison BEFORE INSERT ON usage_events"
    poison = (
        [f"{trigger} WHEN (NEW.event_id = 'poison') BEGIN SELECT RAISE(ABORT, 'poisoned'); END"]
        if ledger.db.is_sqlite
        else [
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; "
            "RETURN NEW; END $$",
            f"{trigger} FOR EACH ROW EXECUTE FUNCTION poison()",
        ]
    )
    async with ledger.db.engine.begin() as conn:
        for statement in poison:
            await conn.exec_driver_sql(statement)
    for customer in ledger.customers:
        await ledger.grant("1", customer)
    batcher = IngestBatcher(ledger.db, concurrency=1)
    requests = [
        [EventIn(id=f"ok{n}", customer=ledger.customers[n % 2], event_type="api_call")]
        for n in range(12)
    ]
    requests.insert(5, [EventIn(id="poison", customer=ledger.customer, event_type="api_call")])
    answers = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)

    failed = [i for i, a in enumerate(answers) if isinstance(a, BaseException)]
    assert failed == [5]
    statuses = [a[0].status for a in answers if not isinstance(a, BaseException)]
    assert statuses == ["debited"] * 12
    for customer in ledger.customers:
        assert (await ledger.wallet(customer)).balance == D("0.94")
    assert await check(ledger.db) == []
