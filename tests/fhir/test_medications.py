"""Referenced Medications: kept when they arrive (``_include``, plain entries), read in batches when they do not, only
from the allowlisted server and within bounds; references that cannot be read are never fetched."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from hooks.contract import MedicationEntry, medication_key
from service.fhir import FhirReader, FhirServer, FhirTarget, Resolution, resolve_prefetch
from service.fhir.medications import BATCH_SIZE

BASE = "https://ehr.example.org/fhir"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def medication(mid: str, code: str = "327361", display: str = "adalimumab") -> dict[str, Any]:
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [{"system": RXNORM, "code": code,
                                                                          "display": display}]}}


def request_by_reference(rid: str, reference: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "stopped", "intent": "order",
            "subject": {"reference": "Patient/p"}, "medicationReference": {"reference": reference}}


def searchset(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}


def prefetch_with(requests_bundle: dict[str, Any]) -> dict[str, Any]:
    empty = searchset()
    return {"patient": {"resourceType": "Patient", "id": "p"}, "medicationStatements": empty,
            "medicationRequests": requests_bundle, "conditions": empty, "allergies": empty, "observations": empty}


class MedicationServer:
    """A FHIR server answering ``Medication?_id=...`` from ``known``; records each query and its token."""

    def __init__(self, known: dict[str, dict[str, Any]], status: int = 200) -> None:
        self.known = known
        self.status = status
        self.queries: list[list[str]] = []
        self.tokens: list[str | None] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/fhir/Medication", request.url
        ids = parse_qs(request.url.query.decode())["_id"][0].split(",")
        self.queries.append(ids)
        self.tokens.append(request.headers.get("authorization"))
        if self.status != 200:
            return httpx.Response(self.status, json={"resourceType": "OperationOutcome", "issue": []})
        entries = [{"fullUrl": f"{BASE}/Medication/{i}", "resource": self.known[i], "search": {"mode": "match"}}
                   for i in ids if i in self.known]
        return httpx.Response(200, json=searchset(*entries))


def resolve(prefetch: dict[str, Any], fhir: MedicationServer | None, *, drafts: tuple[dict[str, Any], ...] = (),
            reads: int = 100) -> Resolution:
    async def run() -> Resolution:
        transport = httpx.MockTransport(fhir.handler if fhir else lambda r: httpx.Response(500))
        async with httpx.AsyncClient(transport=transport) as http:
            server = FhirServer(FhirTarget(BASE, "ehr-token"), FhirReader(http, max_bytes=1_000_000, max_pages=3), 2.0)
            return await resolve_prefetch(prefetch, "p", server if fhir else None, drafts, medication_reads=reads)

    return asyncio.run(run())


def ids_of(resolution: Resolution) -> list[str]:
    return sorted(m.resource["id"] for m in resolution.data.medications)


# --------------------------------------------------------------------------- the keys references are matched by


@pytest.mark.parametrize(("reference", "key"), [
    ("Medication/m1", "Medication/m1"),
    ("https://ehr.example.org/fhir/Medication/m1", "Medication/m1"),
    ("https://ehr.example.org/fhir/Medication/m1/_history/3", "Medication/m1"),
    ("Medication/m1/_history/2", "Medication/m1"),
    ("urn:uuid:0B7F2C3E-11D1-4A7B-9C2D-5E6F7A8B9C0D", "urn:uuid:0b7f2c3e-11d1-4a7b-9c2d-5e6f7a8b9c0d"),
    ("#med1", None),
    ("Substance/s1", None),
    ("urn:uuid:", None),
])
def test_a_reference_names_its_medication_by_one_key(reference, key):
    assert medication_key(reference) == key


def test_a_bundle_medication_answers_its_full_url_and_its_id():
    entry = MedicationEntry(medication("m1"), "urn:uuid:5c3a7e1d-0000-4000-8000-000000000001")
    assert entry.keys() == ("urn:uuid:5c3a7e1d-0000-4000-8000-000000000001", "Medication/m1")
    assert MedicationEntry(medication("m2"), f"{BASE}/Medication/m2").keys() == ("Medication/m2",)


# --------------------------------------------------------------------------- what arrives is kept


def test_included_medications_are_kept_with_their_full_url_and_nothing_is_read():
    fhir = MedicationServer({})
    bundle = searchset(
        {"fullUrl": f"{BASE}/MedicationRequest/r1", "resource": request_by_reference("r1", "Medication/m1"),
         "search": {"mode": "match"}},
        {"fullUrl": f"{BASE}/Medication/m1", "resource": medication("m1"), "search": {"mode": "include"}},
    )
    resolution = resolve(prefetch_with(bundle), fhir)
    assert [(m.resource["id"], m.full_url) for m in resolution.data.medications] == [("m1", f"{BASE}/Medication/m1")]
    assert [r["id"] for r in resolution.data.medication_requests] == ["r1"], "a Medication is not a request"
    assert fhir.queries == [] and resolution.fetched == ()


def test_the_same_medication_included_by_both_searches_is_kept_once():
    included = {"fullUrl": f"{BASE}/Medication/m1", "resource": medication("m1"), "search": {"mode": "include"}}
    prefetch = prefetch_with(searchset(included))
    prefetch["medicationStatements"] = searchset(dict(included))
    assert ids_of(resolve(prefetch, None)) == ["m1"]


# --------------------------------------------------------------------------- what is missing is read


def test_missing_medications_are_read_in_one_batched_search_with_the_ehr_token():
    fhir = MedicationServer({"m1": medication("m1"), "m2": medication("m2", "1653225", "etanercept")})
    bundle = searchset(*({"resource": request_by_reference(f"r{i}", ref)} for i, ref in enumerate(
        ["Medication/m1", f"{BASE}/Medication/m2", "Medication/m1/_history/1"])))
    resolution = resolve(prefetch_with(bundle), fhir)
    assert fhir.queries == [["m1", "m2"]] and fhir.tokens == ["Bearer ehr-token"]
    assert ids_of(resolution) == ["m1", "m2"]
    assert "medications" in resolution.fetched and resolution.failed == ()


def test_references_that_cannot_be_read_are_never_fetched():
    fhir = MedicationServer({})
    bundle = searchset(*({"resource": request_by_reference(f"r{i}", ref)} for i, ref in enumerate([
        "urn:uuid:5c3a7e1d-0000-4000-8000-000000000009",  # a Bundle-local id nobody sent
        "https://other-ehr.example.com/fhir/Medication/m3",  # another server: the token never goes there
        "Medication/not a fhir id",  # would have to be put in a URL
        "#med1",  # contained: read in place by the hook
    ])))
    resolution = resolve(prefetch_with(bundle), fhir)
    assert fhir.queries == [] and resolution.data.medications == ()


def test_a_draft_ordered_by_reference_has_its_medication_read():
    fhir = MedicationServer({"m9": medication("m9", "1872980", "Humira 40 MG/0.4ML pen")})
    draft = {**request_by_reference("draft-1", "Medication/m9"), "status": "draft"}
    resolution = resolve(prefetch_with(searchset()), fhir, drafts=(draft,))
    assert fhir.queries == [["m9"]] and ids_of(resolution) == ["m9"]


def test_reads_are_bounded_in_count_and_batched():
    known = {f"m{i}": medication(f"m{i}") for i in range(BATCH_SIZE + 5)}
    fhir = MedicationServer(known)
    bundle = searchset(*({"resource": request_by_reference(f"r{i}", f"Medication/m{i}")} for i in range(len(known))))
    resolution = resolve(prefetch_with(bundle), fhir, reads=BATCH_SIZE + 2)
    assert sorted(len(q) for q in fhir.queries) == [2, BATCH_SIZE]
    assert len(resolution.data.medications) == BATCH_SIZE + 2
    assert any("3 referenced Medication record(s) were not read" in note for note in resolution.data.notes)


def test_no_reads_when_the_setting_is_zero_or_there_is_no_server():
    fhir = MedicationServer({"m1": medication("m1")})
    bundle = searchset({"resource": request_by_reference("r1", "Medication/m1")})
    assert resolve(prefetch_with(bundle), fhir, reads=0).data.medications == () and fhir.queries == []
    assert resolve(prefetch_with(bundle), None).data.medications == ()


def test_a_failed_medication_read_is_said_and_keeps_everything_else():
    fhir = MedicationServer({}, status=503)
    bundle = searchset({"resource": request_by_reference("r1", "Medication/m1")})
    resolution = resolve(prefetch_with(bundle), fhir)
    assert resolution.failed == ("medications",) and resolution.data.unavailable == frozenset()
    assert [r["id"] for r in resolution.data.medication_requests] == ["r1"]
    assert any("could not be read from the FHIR server (FHIR server answered 503)" in n for n in resolution.data.notes)
