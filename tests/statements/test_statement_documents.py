"""A closed period's statement as people read it: the HTML page and the PDF over real HTTP
(dev server, worker, localstripe, the API), amounts written as money or credits."""

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pypdf import PdfReader

from tests.api.support import create_plan, event, grant, send, signup
from tests.ledger.support import serve_database
from tests.support.plans import plan_code
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.workflows.support import workflow

# 1,500 tokens at 0.0000025 each and one image at 0.05 (credits: at 0.00025 and 5).
TOKENS = 1500


def plan(code: str, credits: bool) -> dict[str, Any]:
    """Periods of 6 seconds, no grace: a statement closes within seconds."""
    token_price, image_price = ("0.00025", "5") if credits else ("0.0000025", "0.05")
    body: dict[str, Any] = {
        "code": code,
        "name": "Statement documents",
        "currency": "USD",
        "period": {"every": 6, "unit": "second"},
        "grace_seconds": 0,
        "meters": [
            {"code": "tokens", "event_type": "tokens", "aggregation": "sum",
             "value_property": "count", "group_by": ["model"]},
            {"code": "images", "event_type": "image_generated", "aggregation": "count"},
        ],
        "prices": [
            {"meter": "tokens", "model": "per_unit", "unit_amount": token_price,
             "filter": {"model": "gpt-4o"}},
            {"meter": "images", "model": "per_unit", "unit_amount": image_price},
        ],
    }  # fmt: skip
    if credits:
        body["credit_unit"] = {"name": "credits", "price": "0.01"}
    return body


@pytest.fixture
async def customer(stack: Stack, unique_id: str) -> AsyncIterator[str]:
    yield unique_id
    # Its periods would go on closing for the rest of the session.
    await workflow(stack, unique_id).terminate("test over")


async def statement_with_usage(stack: Stack, external_id: str) -> dict[str, Any]:
    """The first closed statement whose period holds the usage (the grant before it may have
    fallen in an earlier one)."""

    async def listed() -> list[dict[str, Any]]:
        response = await stack.http.get(f"/v1/customers/{external_id}/statements")
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    data = await eventually(
        listed, until=lambda rows: any(r["usage"] for r in rows), timeout=90, what="a statement"
    )
    [found] = [r for r in data if r["usage"]]
    return found


async def close_a_period(stack: Stack, external_id: str, credits: bool, amount: str) -> int:
    code = plan_code(external_id)
    await create_plan(stack, plan(code, credits))
    await signup(stack, external_id, plan=code)
    await grant(stack, external_id, amount)
    results = await send(
        stack,
        event("t1", external_id, "tokens", count=TOKENS, model="gpt-4o"),
        event("i1", external_id, "image_generated"),
    )
    assert [r["status"] for r in results] == ["debited", "debited"]
    number: int = (await statement_with_usage(stack, external_id))["number"]
    return number


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.parametrize(
    ("credits", "granted", "expected"),
    [
        (
            False,
            "20",
            # tokens 0.00375: too small for cents, so its first two significant digits
            {"tokens": "$0.0038", "images": "$0.05", "closing": "$19.95", "due": "$0.00"},
        ),
        (
            True,
            "1250",
            {
                "tokens": "0.38 credits",
                "images": "5 credits",
                "closing": "1,244.63 credits",
                "due": "$0.00",
            },
        ),
    ],
    ids=["money", "credits"],
)
async def test_the_statement_page_and_pdf_show_amounts_as_people_read_them(
    stack: Stack, customer: str, credits: bool, granted: str, expected: dict[str, str]
) -> None:
    number = await close_a_period(stack, customer, credits, granted)
    base = f"/v1/customers/{customer}/statements/{number}"

    page = await stack.http.get(f"{base}/html")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"<h1>Statement {number}</h1>" in html, html
    assert '<th scope="row">tokens' in html and "model: gpt-4o" in html
    assert '<th scope="col" class="n">Quantity</th>' in html
    assert '<td class="n">1,500</td>' in html
    for shown in expected.values():
        assert shown in html, shown
    assert f'<p class="due">{expected["due"]}</p>' in html
    assert "Payment status: Nothing to pay" in html
    # Zero never reads as negative: nothing expired (a movement shown as −expired).
    zero = "0 credits" if credits else "$0.00"
    expired = re.search(r'Credits expired</th>\s*<td class="n">([^<]*)</td>', html)
    assert expired is not None and expired.group(1) == zero
    assert f"-{zero}" not in html and "−" not in html

    pdf = await stack.http.get(f"{base}/pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="statement-{customer}-{number}.pdf"'
    )
    assert pdf.content.startswith(b"%PDF-")
    text = pdf_text(pdf.content)
    assert customer in text and f"Statement {number}" in text
    for shown in expected.values():
        assert shown in text, shown
    assert f"Credits expired {zero}" in text and f"-{zero}" not in text
    assert "Nothing to pay" in text


async def test_the_configured_locale_writes_the_page_and_the_pdf(
    stack: Stack, customer: str
) -> None:
    number = await close_a_period(stack, customer, credits=False, amount="1234.5")
    base = f"/v1/customers/{customer}/statements/{number}"
    # The same database behind an API configured for German (CREDITGATE_LOCALE=de-DE).
    async with serve_database(stack.db, locale="de-DE") as german:
        page = (await german.get(f"{base}/html")).text
        pdf = pdf_text((await german.get(f"{base}/pdf")).content)
    closing = "1.234,45\u00a0$"  # 1234.5 − 0.05375
    assert '<html lang="de-DE">' in page
    assert f'<td class="n">{closing}</td>' in page and "0,0038\u00a0$" in page
    assert re.search(r"1\.234,45\s\$", pdf) and re.search(r"0,0038\s\$", pdf)
    english = (await stack.http.get(f"{base}/html")).text
    assert '<td class="n">$1,234.45</td>' in english


@pytest.mark.parametrize("kind", ["html", "pdf"])
async def test_unknown_customers_and_statements_are_404s(
    stack: Stack, unique_id: str, kind: str
) -> None:
    missing_customer = await stack.http.get(f"/v1/customers/{unique_id}/statements/1/{kind}")
    assert missing_customer.status_code == 404
    assert missing_customer.json()["error"]["type"] == "not_found"
    await signup(stack, unique_id)
    missing = await stack.http.get(f"/v1/customers/{unique_id}/statements/7/{kind}")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "type": "not_found",
        "message": f"no statement 7 for {unique_id!r}",
    }
