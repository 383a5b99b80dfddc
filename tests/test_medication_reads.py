"""Referenced Medications against a real FHIR server (sekmet): the prefetch templates' ``_include`` brings them in
the same search, and the ones a prefetch lacks are read by id in one batched search, with the EHR's token."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest
from cds import HOOK_URL, with_every_key

from service.fhir import FhirReader, FhirServer, FhirTarget, resolve_prefetch
from service.fhir.prefetch import render

TOKEN = "opaque-ehr-access-token-medications"
PATIENT = "med-ref-patient"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _medication(mid: str, code: str, display: str) -> dict:
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [{"system": RXNORM, "code": code,
                                                                          "display": display}]}}


RESOURCES = [
    {"resourceType": "Patient", "id": PATIENT, "birthDate": "1984-03-02", "gender": "male"},
    {"resourceType": "Condition", "id": "med-ref-as", "subject": {"reference": f"Patient/{PATIENT}"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                    "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "9631008",
                          "display": "Ankylosing spondylitis"}]}},
    _medication("med-ref-adalimumab", "1872980", "0.4 ML adalimumab 100 MG/ML Auto-Injector [Humira]"),
    _medication("med-ref-etanercept", "1653225", "1 ML etanercept 50 MG/ML Auto-Injector [Enbrel]"),
    _medication("med-ref-rinvoq", "2196092", "upadacitinib"),  # referenced by the draft only
    {"resourceType": "MedicationRequest", "id": "med-ref-mr-1", "status": "stopped", "intent": "order",
     "subject": {"reference": f"Patient/{PATIENT}"}, "authoredOn": "2023-01-10",
     "statusReason": {"text": "No improvement after 6 months"},
     "medicationReference": {"reference": "Medication/med-ref-adalimumab"}},
    {"resourceType": "MedicationStatement", "id": "med-ref-ms-1", "status": "stopped",
     "subject": {"reference": f"Patient/{PATIENT}"}, "effectivePeriod": {"start": "2021-02-01", "end": "2022-06-01"},
     "medicationReference": {"reference": "Medication/med-ref-etanercept"}},
]


@pytest.fixture(scope="module")
def med_server(fhir_server):
    fhir_server.load_resources(RESOURCES)
    return fhir_server


def _key(name: str):
    from service.fhir.keys import BY_KEY

    return BY_KEY[name]


def _resolve(base_url: str, prefetch: dict | None):
    async def run():
        async with httpx.AsyncClient() as http:
            server = FhirServer(FhirTarget(base_url, TOKEN), FhirReader(http, max_bytes=5_000_000, max_pages=5), 5.0)
            return await resolve_prefetch(prefetch, PATIENT, server)

    return asyncio.run(run())


def test_the_templates_include_bring_the_medications_in_the_same_search(med_server, recording_proxy):
    proxy = recording_proxy(med_server.base_url)
    resolution = _resolve(proxy.base_url, None)
    assert sorted(m.resource["id"] for m in resolution.data.medications) == ["med-ref-adalimumab", "med-ref-etanercept"]
    assert all(m.full_url and m.full_url.endswith(f"Medication/{m.resource['id']}") for m in resolution.data.medications)
    medication_searches = [r for r in proxy.requests if "Medication" in r.path]
    assert {r.path.rsplit("/", 1)[1] for r in medication_searches} == {"MedicationRequest", "MedicationStatement"}
    assert all("_include" in parse_qs(r.query) for r in medication_searches)
    assert not any(r.path.endswith("/Medication") for r in proxy.requests), "nothing left to read by id"


def test_a_prefetch_without_the_medications_has_them_read_by_id_in_one_search(med_server, recording_proxy):
    proxy = recording_proxy(med_server.base_url)
    old_style = {  # an EHR that filled the templates of an older discovery (no _include)
        name: med_server.get_json(f"{kind}?patient={PATIENT}")
        for name, kind in (("medicationRequests", "MedicationRequest"), ("medicationStatements", "MedicationStatement"),
                           ("conditions", "Condition"))
    }
    old_style.update(patient=med_server.get_json(f"Patient/{PATIENT}"), allergies=None, observations=None)
    resolution = _resolve(proxy.base_url, old_style)
    reads = [r for r in proxy.requests if r.path.endswith("/Medication")]
    assert len(proxy.requests) == len(reads) == 1
    assert sorted(parse_qs(reads[0].query)["_id"][0].split(",")) == ["med-ref-adalimumab", "med-ref-etanercept"]
    assert reads[0].authorization == f"Bearer {TOKEN}"
    assert sorted(m.resource["id"] for m in resolution.data.medications) == ["med-ref-adalimumab", "med-ref-etanercept"]


def test_a_draft_ordered_by_reference_gets_its_card_from_the_medications_read_and_included(api, med_server,
                                                                                        recording_proxy):
    proxy = recording_proxy(med_server.base_url)
    request = with_every_key({
        "hook": "order-select", "hookInstance": "5d1c8f0e-3f7a-4f43-9d7e-3a1d0c9b6e21",
        "fhirServer": proxy.base_url,
        "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                              "scope": "user/*.read", "subject": "axspa-cds"},
        "context": {"userId": "Practitioner/p1", "patientId": PATIENT, "selections": ["MedicationRequest/d1"],
                    "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
                        "resourceType": "MedicationRequest", "id": "d1", "status": "draft", "intent": "order",
                        "subject": {"reference": f"Patient/{PATIENT}"},
                        "medicationReference": {"reference": "Medication/med-ref-rinvoq"}}}]}},
    })
    request["prefetch"]["patient"] = RESOURCES[0]
    request["prefetch"]["conditions"] = med_server.get_json(f"Condition?patient={PATIENT}")
    for name in ("medicationRequests", "medicationStatements"):
        del request["prefetch"][name]
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    searched = sorted(r.path.rsplit("/", 1)[1] + "?" + r.query for r in proxy.requests)
    templates = [f"{_key(n).resource_type}?{render(_key(n).template, PATIENT).split('?', 1)[1]}"
                 for n in ("medicationRequests", "medicationStatements")]
    assert searched == sorted([*templates, "Medication?_id=med-ref-rinvoq"]), (
        "the two medication searches with their _include, then one read for the draft's Medication")
    (card,) = response.json()["cards"]
    assert card["summary"].startswith("Upadacitinib"), card["summary"]
    history = card["detail"].split("Therapy history", 1)[1]
    assert "adalimumab" in history.lower() and "etanercept" in history.lower(), "the history read by reference"
