"""Operations: /metrics (Prometheus text, parsed with prometheus_client's parser), /healthz and /readyz.

Every test scrapes /metrics before and after real calls and asserts that the right series moved by the right
amount (and that unrelated ones did not).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from cds import FEEDBACK_URL, HOOK_URL, seed_request, without_prefetch
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app

FIXTURES = Path(__file__).resolve().parent.parent / "fhir_fixtures"
HOOK_ROUTE = "/cds-services/{service_id}"
FEEDBACK_ROUTE = "/cds-services/{service_id}/feedback"


def scrape(api) -> dict[tuple[str, frozenset], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The sample with exactly these labels (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """Sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def fixture(name: str) -> dict:
    return json.loads(next(FIXTURES.glob(f"*/{name}.request.json")).read_text())


def test_hook_calls_move_request_latency_and_card_counters(api):
    before = scrape(api)
    seed = seed_request()
    responses = [api.post(HOOK_URL, json=seed) for _ in range(2)]
    assert all(r.status_code == 200 for r in responses)
    silent = api.post(HOOK_URL, json=fixture("out-atorvastatin-for-as-patient-no-cards"))
    assert silent.status_code == 200 and silent.json()["cards"] == []
    bad = api.post(HOOK_URL, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    hook_ok = dict(route=HOOK_ROUTE, method="POST", hook="order-select", status="200")
    assert moved("cds_http_requests_total", **hook_ok) == 3
    assert moved("cds_http_request_duration_seconds_count", route=HOOK_ROUTE, method="POST", hook="order-select") == 3
    assert moved("cds_http_request_duration_seconds_sum", route=HOOK_ROUTE, method="POST", hook="order-select") > 0
    # the malformed body never got as far as a hook: counted under hook "none" with its 400
    assert moved("cds_http_requests_total", route=HOOK_ROUTE, method="POST", hook="none", status="400") == 1

    by_indicator: dict[str, int] = {}
    for response in responses:
        for card in response.json()["cards"]:
            by_indicator[card["indicator"]] = by_indicator.get(card["indicator"], 0) + 1
    assert by_indicator.get("warning", 0) >= 2, "the seed patient gets a warning card each time"
    for indicator in ("info", "warning", "critical"):
        assert moved("cds_cards_total", hook="order-select", indicator=indicator) == by_indicator.get(indicator, 0)
    silent_moved = total(after, "cds_silent_responses_total", hook="order-select") - total(
        before, "cds_silent_responses_total", hook="order-select")
    assert silent_moved == 1
    # no FHIR server was involved: prefetch was complete
    assert moved("cds_fhir_fetch_duration_seconds_count") == 0
    assert total(after, "cds_fhir_fetch_failures_total") == total(before, "cds_fhir_fetch_failures_total")


def test_discovery_and_metrics_routes_are_counted(api):
    before = scrape(api)
    assert api.get("/cds-services").status_code == 200
    after = scrape(api)
    labels = dict(route="/cds-services", method="GET", hook="none", status="200")
    assert value(after, "cds_http_requests_total", **labels) - value(before, "cds_http_requests_total", **labels) == 1
    metrics_labels = dict(route="/metrics", method="GET", hook="none", status="200")
    # the first scrape is counted once it has finished, so the second sees exactly one more
    assert value(after, "cds_http_requests_total", **metrics_labels) - value(
        before, "cds_http_requests_total", **metrics_labels) == 1


def test_feedback_outcomes_are_counted(api):
    card = api.post(HOOK_URL, json=seed_request()).json()["cards"][0]
    suggestion = card["suggestions"][0]["uuid"]
    before = scrape(api)
    accepted = {"feedback": [{"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
                              "outcomeTimestamp": "2026-11-24T10:00:00Z"}]}
    overridden = {"feedback": [
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-24T10:01:00Z",
         "overrideReason": {"userComment": "discussed with the patient"}},
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-24T10:02:00Z",
         "overrideReason": {"userComment": "again"}},
    ]}
    assert api.post(FEEDBACK_URL, json=accepted).status_code == 200
    assert api.post(FEEDBACK_URL, json=overridden).status_code == 200
    after = scrape(api)
    assert value(after, "cds_feedback_total", outcome="accepted") - value(before, "cds_feedback_total",
                                                                         outcome="accepted") == 1
    assert value(after, "cds_feedback_total", outcome="overridden") - value(before, "cds_feedback_total",
                                                                           outcome="overridden") == 2
    labels = dict(route=FEEDBACK_ROUTE, method="POST", hook="none", status="200")
    assert value(after, "cds_http_requests_total", **labels) - value(before, "cds_http_requests_total", **labels) == 2


def test_fhir_fetch_latency_and_failures(api, seeded_fhir_server, faulty_fhir):
    """Missing prefetch read from a real FHIR server moves the latency histogram; a failing server the failures."""
    before = scrape(api)
    request = without_prefetch(seed_request())
    request["fhirServer"] = seeded_fhir_server.base_url  # http on 127.0.0.1: allowed in development mode
    ok = api.post(HOOK_URL, json=request)
    assert ok.status_code == 200 and ok.json()["cards"], ok.text
    middle = scrape(api)
    assert value(middle, "cds_fhir_fetch_duration_seconds_count") - value(before, "cds_fhir_fetch_duration_seconds_count") == 1
    assert value(middle, "cds_fhir_fetch_duration_seconds_sum") > value(before, "cds_fhir_fetch_duration_seconds_sum")
    assert total(middle, "cds_fhir_fetch_failures_total") == total(before, "cds_fhir_fetch_failures_total")

    broken = faulty_fhir("ok", per_type={"AllergyIntolerance": "500"})
    request = without_prefetch(seed_request(), "allergies")
    request["fhirServer"] = broken.base_url
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text  # allergies are not required: the hook still answers
    after = scrape(api)
    assert value(after, "cds_fhir_fetch_failures_total", key="allergies") - value(
        middle, "cds_fhir_fetch_failures_total", key="allergies") == 1
    assert total(after, "cds_fhir_fetch_failures_total") - total(middle, "cds_fhir_fetch_failures_total") == 1


def test_healthz_and_readyz_when_started(api):
    health = api.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readyz_is_503_until_started_and_healthz_is_not(tmp_path):
    """Without its start-up (no lifespan run) the app is alive but not ready: no store, no knowledge yet."""
    from cds import settings

    app = create_app(settings(tmp_path))

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # does not run the lifespan
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as raw:
            return await raw.get("/healthz"), await raw.get("/readyz")

    health, not_ready = asyncio.run(probe())
    assert health.status_code == 200
    assert not_ready.status_code == 503 and not_ready.json() == {"status": "not ready"}
