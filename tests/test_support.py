"""Tests of the test harness itself (tests/support + conftest fixtures)."""
from __future__ import annotations

import time

import httpx
import pytest
from support import FaultyFhir, SekmetServer, missing_infra, prefetch_to_resources, sekmet_available
from support.fhir_server import SEKMET_BIN


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]


# ---------------------------------------------------------------------------- seed + prefetch helper
def test_prefetch_to_resources_extracts_patient_and_bundle_entries(seed_request):
    res = prefetch_to_resources(seed_request)
    keys = [(r["resourceType"], r["id"]) for r in res]
    assert keys[0] == ("Patient", "seed-patient")
    assert sorted(k for k in keys if k[0] == "MedicationStatement") == [
        ("MedicationStatement", "ms-cel"), ("MedicationStatement", "ms-etn"), ("MedicationStatement", "ms-upa")]
    assert ("Condition", "c-as") in keys and ("AllergyIntolerance", "ai-etn") in keys
    assert all(r["resourceType"] != "Bundle" for r in res)
    assert len(keys) == len(set(keys))
    # draft orders are context, not server data
    assert ("MedicationRequest", "draft-upadacitinib") not in keys


def test_prefetch_to_resources_tolerates_missing_and_null_prefetch():
    assert prefetch_to_resources({"hook": "order-select"}) == []
    assert prefetch_to_resources({"prefetch": {"patient": None, "x": {"resourceType": "Bundle"}}}) == []


# ---------------------------------------------------------------------------- sekmet (real FHIR server)
def test_sekmet_answers_searches_for_the_seed_patient(seeded_fhir_server):
    fhir = seeded_fhir_server
    assert fhir.base_url.endswith("/fhir")
    b = fhir.get_json("MedicationStatement?patient=seed-patient")
    assert b["resourceType"] == "Bundle" and b["type"] == "searchset" and b["total"] == 3
    assert sorted(_ids(b)) == ["ms-cel", "ms-etn", "ms-upa"]
    assert fhir.get_json("MedicationStatement?patient=Patient/seed-patient")["total"] == 3
    assert _ids(fhir.get_json("Condition?patient=seed-patient")) == ["c-as"]
    assert _ids(fhir.get_json("AllergyIntolerance?patient=seed-patient")) == ["ai-etn"]
    mr = fhir.get_json("MedicationRequest?patient=seed-patient")
    assert mr["resourceType"] == "Bundle" and mr["total"] == 0 and not mr.get("entry")
    assert fhir.get_json("Patient/seed-patient")["id"] == "seed-patient"
    assert fhir.get("Patient/does-not-exist").status_code == 404
    assert fhir.get_json("MedicationStatement?patient=nobody")["total"] == 0


def test_sekmet_paging_next_links_can_be_followed(seeded_fhir_server):
    fhir = seeded_fhir_server
    page = fhir.get_json("MedicationStatement?patient=seed-patient&_count=1")
    seen = []
    for _ in range(5):
        assert len(_ids(page)) == 1 and page["total"] == 3
        seen += _ids(page)
        url = _next(page)
        if url is None:
            break
        assert url.startswith(fhir.base_url + "/MedicationStatement?")  # absolute, _count/_offset paging
        page = fhir.get_json(url)
    assert sorted(seen) == ["ms-cel", "ms-etn", "ms-upa"]
    assert len(fhir.search_all("MedicationStatement?patient=seed-patient&_count=2")) == 3


def test_recording_proxy_sees_the_authorization_header(seeded_fhir_server, recording_proxy):
    proxy = recording_proxy(seeded_fhir_server.base_url)
    assert proxy.base_url.endswith("/fhir") and proxy.base_url != seeded_fhir_server.base_url
    with httpx.Client(headers={"Authorization": "Bearer tok-123"}, timeout=10) as c:
        b = c.get(f"{proxy.base_url}/MedicationStatement", params={"patient": "seed-patient", "_count": 2}).json()
        assert b["total"] == 3
        nxt = _next(b)
        assert nxt and nxt.startswith(proxy.base_url)  # paging links are rewritten to stay on the proxy
        assert len(_ids(c.get(nxt).json())) == 1
        assert c.get(f"{proxy.base_url}/Patient/seed-patient").json()["id"] == "seed-patient"
    reqs = proxy.requests
    assert [(r.method, r.path) for r in reqs] == [
        ("GET", "/fhir/MedicationStatement"), ("GET", "/fhir/MedicationStatement"), ("GET", "/fhir/Patient/seed-patient")]
    assert "patient=seed-patient" in reqs[0].query
    assert proxy.authorizations() == ["Bearer tok-123"] * 3


def test_sekmet_can_enforce_a_static_bearer_token():
    if not sekmet_available():
        missing_infra(f"sekmet-fhir not installed at {SEKMET_BIN}")
    with SekmetServer(bearer_tokens=["s3cret"]) as fhir:
        url = f"{fhir.base_url}/Patient?_count=1"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert fhir.get_json("Patient?_count=1")["resourceType"] == "Bundle"  # harness sends the token itself


# ---------------------------------------------------------------------------- faulty fake FHIR server
def test_faulty_hang_outlasts_a_client_budget(faulty_fhir):
    fhir = faulty_fhir("hang")
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fhir.base_url}/MedicationStatement?patient=p1", timeout=0.5)
    assert time.monotonic() - t0 < 2
    assert fhir.requests[0].path == "/fhir/MedicationStatement"


@pytest.mark.parametrize("mode,status", [("500", 500), ("401", 401), ("operation-outcome", 400)])
def test_faulty_error_statuses(faulty_fhir, mode, status):
    fhir = faulty_fhir(mode)
    r = httpx.get(f"{fhir.base_url}/Condition?patient=p1", timeout=5)
    assert r.status_code == status
    if mode == "401":
        assert r.headers["www-authenticate"].startswith("Bearer")
    if mode in ("401", "operation-outcome"):
        assert r.json()["resourceType"] == "OperationOutcome"


def test_faulty_garbage_and_wrong_json(faulty_fhir):
    fhir = faulty_fhir("garbage", per_type={"Condition": "wrong-json", "AllergyIntolerance": "wrong-resource"})
    r = httpx.get(f"{fhir.base_url}/MedicationStatement?patient=p1", timeout=5)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    with pytest.raises(ValueError):
        r.json()
    assert isinstance(httpx.get(f"{fhir.base_url}/Condition?patient=p1", timeout=5).json(), list)
    assert httpx.get(f"{fhir.base_url}/AllergyIntolerance?patient=p1", timeout=5).json()["resourceType"] == "Patient"


def test_faulty_huge_bundle(faulty_fhir):
    fhir = faulty_fhir("huge", huge_count=20_000)
    t0 = time.monotonic()
    r = httpx.get(f"{fhir.base_url}/MedicationStatement?patient=p1", timeout=30)
    b = r.json()
    assert b["resourceType"] == "Bundle" and b["total"] == 20_000 and len(b["entry"]) == 20_000
    assert b["entry"][0]["resource"]["resourceType"] == "MedicationStatement"
    assert len(r.content) > 5_000_000
    assert time.monotonic() - t0 < 10


def test_faulty_slow_answers_after_the_delay(faulty_fhir):
    fhir = faulty_fhir("slow", slow_seconds=0.3, data={"Condition": [{"resourceType": "Condition", "id": "c1"}]})
    t0 = time.monotonic()
    b = httpx.get(f"{fhir.base_url}/Condition?patient=p1", timeout=5).json()
    assert time.monotonic() - t0 >= 0.3
    assert b["resourceType"] == "Bundle" and _ids(b) == ["c1"]


def test_faulty_paginated_chain(faulty_fhir):
    fhir = faulty_fhir("paginated", pages=3, page_size=2)
    url = f"{fhir.base_url}/MedicationStatement?patient=p9"
    ids, pages = [], 0
    while url:
        b = httpx.get(url, timeout=5).json()
        pages += 1
        ids += _ids(b)
        assert all(e["resource"]["subject"]["reference"] == "Patient/p9" for e in b["entry"])
        url = _next(b)
    assert pages == 3 and len(ids) == 6 and len(set(ids)) == 6
    assert [r.query for r in fhir.requests] == ["patient=p9", "patient=p9&_page=2", "patient=p9&_page=3"]


def test_faulty_partial_failure_per_resource_type_and_recording(faulty_fhir):
    fhir = faulty_fhir("empty", per_type={"MedicationStatement": "hang"}, hang_seconds=30,
                      data={"Patient": [{"resourceType": "Patient", "id": "p1", "gender": "female"}]})
    h = {"Authorization": "Bearer abc"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fhir.base_url}/MedicationStatement?patient=p1", headers=h, timeout=0.3)
    t0 = time.monotonic()
    b = httpx.get(f"{fhir.base_url}/Condition?patient=p1", headers=h, timeout=5).json()
    assert b == {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}
    assert httpx.get(f"{fhir.base_url}/Patient/p1", headers=h, timeout=5).json()["gender"] == "female"
    assert httpx.get(f"{fhir.base_url}/Patient/other", timeout=5).json() == {"resourceType": "Patient", "id": "other"}
    assert time.monotonic() - t0 < 1
    fhir.set_mode("500", "Condition")
    assert httpx.get(f"{fhir.base_url}/Condition?patient=p1", timeout=5).status_code == 500
    assert [r.authorization for r in fhir.requests] == ["Bearer abc"] * 3 + [None, None]
    assert len(fhir.requests_for("MedicationStatement")) == 1
    assert fhir.requests_for("Patient")[0].path == "/fhir/Patient/p1"


def test_faulty_rejects_unknown_modes():
    with pytest.raises(ValueError):
        FaultyFhir("teapot")


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_postgres_accepts_connections_and_queries(postgres):
    import psycopg

    assert postgres.url.startswith("postgresql://axspa:") and "@127.0.0.1:" in postgres.url
    with psycopg.connect(postgres.url, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE harness_check (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO harness_check VALUES (1, 'hello'), (2, 'world')")
        assert conn.execute("SELECT note FROM harness_check ORDER BY id").fetchall() == [("hello",), ("world",)]
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("axspa", "axspa_test")
        conn.execute("DROP TABLE harness_check")
    url = postgres.create_database("harness_extra")
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("harness_extra",)
    postgres.drop_database("harness_extra")
