"""The prefetch decision table against a real FHIR server (sekmet), and FHIR faults via a fake server.

The hook must not care where data came from: the same patient through prefetch or through the FHIR
server gives the same cards.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
from cds import HOOK_URL, assert_cds_clean, client, without_prefetch

from service.fhir import PREFETCH_KEYS

TOKEN = "opaque-ehr-access-token-7f3a"
OBSERVATION_CODES = ("72166-2", "82810-3", "71773-6", "5196-1", "16933-4", "1988-5")
KEYS = {key.key for key in PREFETCH_KEYS}
TYPES = {key.resource_type: key.key for key in PREFETCH_KEYS}


def _with_server(request, base_url, token=TOKEN):
    request["fhirServer"] = base_url
    if token:
        request["fhirAuthorization"] = {
            "access_token": token, "token_type": "Bearer", "expires_in": 300,
            "scope": "user/*.read", "subject": "axspa-cds",
        }
    else:
        request.pop("fhirAuthorization", None)
    return request


def _keys_requested(recorded):
    keys = set()
    for r in recorded:
        resource_type = r.path.split("/fhir/", 1)[-1].split("/")[0]
        keys.add(TYPES[resource_type])
    return keys


@pytest.fixture()
def proxy(seeded_fhir_server, recording_proxy):
    return recording_proxy(seeded_fhir_server.base_url)


def test_full_prefetch_never_calls_the_fhir_server(api, proxy, seed_request):
    response = api.post(HOOK_URL, json=_with_server(seed_request, proxy.base_url))
    assert response.status_code == 200
    assert response.json()["cards"]
    assert proxy.requests == []


def test_no_prefetch_reads_everything_from_the_fhir_server_with_the_token(api, proxy, seed_request):
    expected = api.post(HOOK_URL, json=seed_request).json()
    request = _with_server(without_prefetch(seed_request), proxy.base_url)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    assert response.json() == expected, "same patient, same cards, whatever the data source"
    assert _keys_requested(proxy.requests) == set(KEYS)
    assert proxy.authorizations() and set(proxy.authorizations()) == {f"Bearer {TOKEN}"}
    assert_cds_clean(response.json())


def test_without_fhir_authorization_no_token_is_sent(api, proxy, seed_request):
    request = _with_server(without_prefetch(seed_request), proxy.base_url, token=None)
    assert api.post(HOOK_URL, json=request).status_code == 200
    assert proxy.requests and set(proxy.authorizations()) == {None}


def test_partial_prefetch_fetches_only_the_missing_keys(api, proxy, seed_request):
    expected = api.post(HOOK_URL, json=seed_request).json()
    request = _with_server(without_prefetch(seed_request, "conditions", "allergies"), proxy.base_url)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json() == expected
    assert _keys_requested(proxy.requests) == {"conditions", "allergies"}


def test_null_prefetch_is_known_empty_and_not_refetched(api, proxy, seed_request):
    request = _with_server(seed_request, proxy.base_url)
    request["prefetch"]["medicationRequests"] = None
    request["prefetch"]["allergies"] = None
    assert api.post(HOOK_URL, json=request).status_code == 200
    assert proxy.requests == []


def test_operation_outcome_prefetch_is_refetched_from_the_server(api, proxy, seed_request):
    expected = api.post(HOOK_URL, json=seed_request).json()
    request = _with_server(seed_request, proxy.base_url)
    request["prefetch"]["conditions"] = {
        "resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json()["cards"] and response.json()["cards"][0]["summary"] == expected["cards"][0]["summary"]
    assert _keys_requested(proxy.requests) == {"conditions"}


def test_paginated_prefetch_is_followed_to_the_end(api, proxy, seed_request, seeded_fhir_server):
    expected = api.post(HOOK_URL, json=seed_request).json()
    first_page = seeded_fhir_server.get_json(f"{proxy.base_url}/MedicationStatement?patient=seed-patient&_count=1")
    assert len(first_page["entry"]) == 1 and any(link["relation"] == "next" for link in first_page["link"])
    request = _with_server(seed_request, proxy.base_url)
    request["prefetch"]["medicationStatements"] = first_page
    proxy.clear()
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json() == expected, "all three statements must be read through the next links"
    assert len(proxy.requests) == 2 and set(proxy.authorizations()) == {f"Bearer {TOKEN}"}


def test_paginated_search_from_the_server_reads_every_page(api, faulty_fhir, seed_request):
    fake = faulty_fhir("empty", per_type={"Condition": "paginated"}, pages=3, page_size=2)
    request = _with_server(without_prefetch(seed_request, "conditions"), fake.base_url)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert len(fake.requests_for("Condition")) == 3


@pytest.mark.parametrize("mode", ["500", "401", "garbage", "wrong-json", "operation-outcome"])
def test_fhir_server_trouble_is_412_never_5xx(tmp_path, faulty_fhir, seed_request, mode):
    fake = faulty_fhir(mode)
    with client(tmp_path, fhir_timeout_s=1.0) as api:
        response = api.post(HOOK_URL, json=_with_server(without_prefetch(seed_request), fake.base_url))
    assert response.status_code == 412, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert TOKEN not in response.text


def test_optional_data_hanging_still_gives_cards_and_says_so(tmp_path, faulty_fhir, seed_request):
    fake = faulty_fhir("empty", per_type={"AllergyIntolerance": "hang"})
    request = _with_server(without_prefetch(seed_request, "allergies"), fake.base_url)
    with client(tmp_path, fhir_timeout_s=0.5) as api:
        started = time.perf_counter()
        response = api.post(HOOK_URL, json=request)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed < 0.6
    details = " ".join(card.get("detail", "") for card in response.json()["cards"]).lower()
    assert "allerg" in details


def test_fhir_search_answering_not_a_bundle_is_unavailable(tmp_path, faulty_fhir, seed_request):
    fake = faulty_fhir("empty", per_type={"Condition": "wrong-resource"})
    with client(tmp_path) as api:
        response = api.post(HOOK_URL, json=_with_server(without_prefetch(seed_request, "conditions"), fake.base_url))
    assert response.status_code == 412
    assert "conditions" in response.text


def test_observations_are_read_from_the_fhir_server_with_their_codes_newest_first(api, proxy, seed_request):
    request = _with_server(without_prefetch(seed_request, "observations"), proxy.base_url)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    [read] = proxy.requests
    assert read.path == "/fhir/Observation"
    query = dict(parse_qsl(read.query))
    assert query["patient"] == "seed-patient" and query["_sort"] == "-date"
    assert set(query["code"].split(",")) == {f"http://loinc.org|{code}" for code in OBSERVATION_CODES}
    details = " ".join(card.get("detail", "") for card in response.json()["cards"])
    assert "observations:" not in details, "the server answered: nothing is unavailable"


def test_observations_unavailable_never_cause_a_412_by_themselves(api, seed_request):
    request = without_prefetch(seed_request, "observations")
    request.pop("fhirServer")
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    details = " ".join(card.get("detail", "") for card in response.json()["cards"])
    assert "Could not obtain Observations" in details
    assert details.count("Observations (smoking") == 1, "said once, not once per layer"
