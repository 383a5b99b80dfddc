"""FhirReader units over httpx.MockTransport: the token goes only under the base, pages are followed within the
limits and the budget, and every failure is a FhirError naming it (the real-socket faults: test_fhir_faults)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service.fhir import Deadline, FhirError, FhirReader, FhirTarget

BASE = "https://ehr.example.org/fhir"
TOKEN = "reader-token-5e1f"


def page(n: int, *, last: bool, size: int = 2) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "entry": [{"resource": {"resourceType": "Condition", "id": f"c{n}-{i}"}}
                                        for i in range(size)]}
    if not last:
        bundle["link"] = [{"relation": "next", "url": f"{BASE}/Condition?patient=p&_page={n + 1}"}]
    return bundle


def read(handler: Callable[[httpx.Request], httpx.Response], url: str = f"{BASE}/Condition?patient=p",
         budget: float = 2.0, **limits: int) -> tuple[list[dict[str, Any]] | FhirError, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def run() -> list[dict[str, Any]] | FhirError:
        async with httpx.AsyncClient(transport=httpx.MockTransport(recording)) as http:
            reader = FhirReader(http, max_bytes=limits.get("max_bytes", 1_000_000),
                                max_pages=limits.get("max_pages", 10), max_resources=limits.get("max_resources", 50))
            try:
                return await reader.search(FhirTarget(BASE, TOKEN), url, Deadline(budget))
            except FhirError as exc:
                return exc

    return asyncio.run(run()), seen


def test_a_search_follows_next_links_to_the_last_page_with_the_token():
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("_page", "1"))
        return httpx.Response(200, json=page(n, last=n == 3))

    pages, seen = read(handler)
    assert isinstance(pages, list) and len(pages) == 3
    assert [r.headers["authorization"] for r in seen] == [f"Bearer {TOKEN}"] * 3
    assert all(r.headers["accept"] == "application/fhir+json" for r in seen)


@pytest.mark.parametrize(
    ("limits", "reason"),
    [({"max_pages": 2}, "more than 2 pages"), ({"max_resources": 3}, "more than 3 resources"),
     ({"max_bytes": 100}, "larger than the configured limit")],
)
def test_a_search_beyond_a_limit_fails_closed(limits, reason):
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("_page", "1"))
        return httpx.Response(200, json=page(n, last=n == 5))

    result, _ = read(handler, **limits)
    assert isinstance(result, FhirError) and reason in result.reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(httpx.Response(401), "refused the token (401)"), (httpx.Response(503), "answered 503"),
     (httpx.Response(200, content=b"<html>"), "not JSON"), (httpx.Response(200, json=[1, 2]), "not a FHIR resource"),
     (httpx.Response(200, json={"resourceType": "OperationOutcome"}), "OperationOutcome"),
     (httpx.Response(200, json={"resourceType": "Patient", "id": "p"}), "did not return a Bundle")],
)
def test_every_bad_answer_is_a_fhir_error_naming_it(answer, reason):
    result, _ = read(lambda request: answer)
    assert isinstance(result, FhirError) and reason in result.reason
    assert TOKEN not in result.reason


def test_a_404_search_is_no_results_and_a_transport_error_is_unreachable():
    assert read(lambda request: httpx.Response(404))[0] == []

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result, _ = read(refuse)
    assert isinstance(result, FhirError) and result.reason == "FHIR server unreachable (ConnectError)"


def test_a_next_link_off_the_server_is_never_sent_the_token():
    def handler(request: httpx.Request) -> httpx.Response:
        bundle = page(1, last=True)
        bundle["link"] = [{"relation": "next", "url": "https://evil.example.org/fhir/Condition?_page=2"}]
        return httpx.Response(200, json=bundle)

    result, seen = read(handler)
    assert isinstance(result, FhirError) and "outside the FHIR server" in result.reason
    assert [r.url.host for r in seen] == ["ehr.example.org"]


def test_an_exhausted_budget_sends_nothing():
    result, seen = read(lambda request: httpx.Response(200, json=page(1, last=True)), budget=0.0)
    assert isinstance(result, FhirError) and result.reason == "time budget exhausted"
    assert seen == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_never_data_and_never_followed(status):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/elsewhere"):
            return httpx.Response(200, json=page(1, last=True))
        return httpx.Response(status, headers={"Location": "https://ehr.example.org/elsewhere/Condition"},
                              json=page(1, last=True))  # a body that would parse as a Bundle

    result, seen = read(handler)
    assert isinstance(result, FhirError) and "redirect" in result.reason
    assert [r.url.path for r in seen] == ["/fhir/Condition"]
