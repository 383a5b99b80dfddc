"""The prefetch decision table, unit by unit (resolve_prefetch over httpx.MockTransport; sekmet: test_prefetch)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from service.fhir import PREFETCH_KEYS, FhirReader, FhirServer, FhirTarget, Resolution, resolve_prefetch

BASE = "https://ehr.example.org/fhir"
TYPES = {key.resource_type: key for key in PREFETCH_KEYS}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def server_answering(paths: list[str]) -> httpx.MockTransport:
    """A FHIR server with one resource of each searched type, and the Patient; records the paths asked."""

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        kind = request.url.path.rsplit("/fhir/", 1)[1].split("/")[0]
        if kind == "Patient":
            return httpx.Response(200, json={"resourceType": "Patient", "id": "p"})
        return httpx.Response(200, json=searchset({"resourceType": kind, "id": f"{kind}-1"}))

    return httpx.MockTransport(handler)


def resolve(prefetch: dict[str, Any] | None, *, with_server: bool = True) -> tuple[Resolution, list[str]]:
    paths: list[str] = []

    async def run() -> Resolution:
        async with httpx.AsyncClient(transport=server_answering(paths)) as http:
            server = FhirServer(FhirTarget(BASE, "t"), FhirReader(http, max_bytes=100_000, max_pages=3), 2.0)
            return await resolve_prefetch(prefetch, "p", server if with_server else None)

    return asyncio.run(run()), paths


def full_prefetch() -> dict[str, Any]:
    prefetch: dict[str, Any] = {"patient": {"resourceType": "Patient", "id": "p"}}
    for key in PREFETCH_KEYS:
        if key.is_search:
            prefetch[key.key] = searchset({"resourceType": key.resource_type, "id": "given"})
    return prefetch


def test_a_full_prefetch_is_used_as_given_and_nothing_is_fetched():
    resolution, paths = resolve(full_prefetch())
    assert paths == [] and resolution.fetched == () and resolution.data.unavailable == frozenset()
    for key in PREFETCH_KEYS:
        value = getattr(resolution.data, key.field)
        assert (value[0] if key.is_search else value)["resourceType"] == key.resource_type


def test_absent_keys_are_fetched_null_keys_are_known_empty():
    prefetch = full_prefetch()
    del prefetch["conditions"], prefetch["observations"]
    prefetch["allergies"] = None
    resolution, paths = resolve(prefetch)
    assert sorted(paths) == ["/fhir/Condition", "/fhir/Observation"]
    assert resolution.fetched == ("conditions", "observations")
    assert resolution.data.conditions[0]["id"] == "Condition-1" and resolution.data.allergies == ()


def test_an_operation_outcome_is_refetched_and_said():
    prefetch = full_prefetch()
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    resolution, paths = resolve(prefetch)
    assert paths == ["/fhir/Condition"]
    assert "The EHR's prefetch of conditions was an OperationOutcome." in resolution.data.notes


def test_without_a_server_missing_keys_are_unavailable_and_noted():
    resolution, _ = resolve({"patient": None}, with_server=False)
    assert resolution.data.unavailable == {key.key for key in PREFETCH_KEYS if key.key != "patient"}
    assert not resolution.data.notes, "unavailable says it; the hook words it for the card"


def test_one_bad_entry_never_loses_the_good_ones():
    prefetch = full_prefetch()
    prefetch["conditions"]["entry"][:0] = [17, {"resource": "garbage"}, {"resource": {"resourceType": "Medication"}}]
    resolution, _ = resolve(prefetch, with_server=False)
    assert [c["id"] for c in resolution.data.conditions] == ["given"]
    assert "conditions: skipped 2 malformed entries." in resolution.data.notes


def test_a_paginated_prefetch_is_read_to_the_end_on_the_server():
    prefetch = full_prefetch()
    prefetch["conditions"]["link"] = [{"relation": "next", "url": f"{BASE}/Condition?patient=p&_page=2"}]
    resolution, paths = resolve(prefetch)
    assert paths == ["/fhir/Condition"] and resolution.fetched == ("conditions",)
    assert [c["id"] for c in resolution.data.conditions] == ["given", "Condition-1"]


def test_the_registry_is_the_hooks_contract():
    """One definition: every key fills one PatientData field, and the hook reads the data sets the keys name (the
    referenced Medications come beside them, from every medication search and from reads by id)."""
    from dataclasses import fields

    from hooks import PatientData
    from hooks.contract import DATA_KEYS

    assert tuple(key.key for key in PREFETCH_KEYS) == DATA_KEYS
    beside = {"unavailable", "notes", "medications"}
    assert {key.field for key in PREFETCH_KEYS} == {f.name for f in fields(PatientData)} - beside
