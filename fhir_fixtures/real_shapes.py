"""Requests in the shapes real clients and records have (fhir_fixtures/real-shapes/): the CDS Hooks order-select
example, Da Vinci CRD, US Core with ``_include``, Synthea 2019 and 3.x transaction Bundles, Oracle Health's contained
Medication bindings, an Epic-style draft id, ICD-10-CM under its OID, and the CDS Hooks sandbox's own R4 and DSTU2
requests. Each shape is written as its source documents it (``../shared/reference/realworld-shapes.md``), not as this
project's builders would write it; the clinical story around it uses the shared builders.

The Synthea cases also exist as the patient Bundle Synthea writes (:func:`synthea_bundle`): the request is what
``python -m service evaluate`` builds from it (the Bundle's resources sorted into the prefetch searches, its
Medications as the medication search's ``_include`` would bring them), and tests/test_offline.py checks that.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from fhir_fixtures import builders as b

HERE = Path(__file__).resolve().parent / "real-shapes"
SANDBOX_R4 = HERE / "_sandbox-order-select.source.json"  # copies of ../shared/examples (the sandbox sent them)
SANDBOX_DSTU2 = HERE / "_sandbox-dstu2-order-select.source.json"
FOLDER = "real-shapes"
RXNORM, SNOMED, ICD10CM = b.RXNORM, b.SNOMED, b.ICD10
BASE = b.FHIR_SERVER  # https://ehr.example.org/fhir
CERNER_SYNONYM = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/synonym"  # Millennium's own codes
EPIC_DRAFT_ID = ("eOrder.1.2.840.114350.1.13.861.1.7.2.798268.3021." + ".".join(f"{n:03d}" for n in range(30)))[:180]


def _uuid(case: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{FOLDER}/{case}/{name}"))


def _instance(case: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{FOLDER}/{case}"))


def _searchset(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": sum(e["search"]["mode"] == "match" for e in entries),
            "entry": entries}


def _match(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    return {"fullUrl": full_url or f"{BASE}/{resource['resourceType']}/{resource['id']}", "resource": resource,
            "search": {"mode": "match"}}


def _include(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    return {**_match(resource, full_url), "search": {"mode": "include"}}


def _prefetch(patient: dict[str, Any], **bundles: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"patient": patient}
    for key in ("medicationStatements", "medicationRequests", "conditions", "allergies", "observations"):
        out[key] = _searchset(bundles.get(key, []))
    return out


def _request(case: str, pid: str, draft_orders: dict[str, Any], prefetch: dict[str, Any], *,
             selections: list[str] | None, user: str = "Practitioner/example", **context: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"userId": user, "patientId": pid, **context}
    if selections is not None:
        ctx["selections"] = selections
    ctx["draftOrders"] = draft_orders
    return {"hook": "order-select", "hookInstance": _instance(case), "fhirServer": BASE, "context": ctx,
            "prefetch": prefetch}


def _as(pid: str, rid: str = "c-as") -> dict[str, Any]:
    return b.condition(rid, "as", patient=pid, onset="2016-05-01")


def _adalimumab_failed(pid: str, **medication: Any) -> dict[str, Any]:
    """Adalimumab stopped after 6 months without meaningful improvement (primary non-response), as an order."""
    res = b.medication_request("mr-ada", "adalimumab", patient=pid, authored="2025-01-06", end="2025-07-07",
                               status="stopped", reason="Not effective: no meaningful improvement in BASDAI after 6 "
                                                        "months")
    if medication:
        res.pop("medicationCodeableConcept")
        res.update(medication)
    return res


# ------------------------------------------------------------------------------------------------ the cases


def spec_example(case: str, pid: str, *, select_medication: bool) -> dict[str, Any]:
    """The CDS Hooks order-select R4 example's shape: a draftOrders Bundle without ``type`` holding a NutritionOrder
    and a MedicationRequest, ``userId`` a PractitionerRole, an ``encounterId``, ``doseAndRate`` as an object."""
    nutrition = {
        "resourceType": "NutritionOrder", "id": "pureeddiet-simple", "status": "draft", "intent": "proposal",
        "patient": {"reference": f"Patient/{pid}"}, "encounter": {"reference": "Encounter/89284"},
        "dateTime": "2026-11-24", "orderer": {"reference": "PractitionerRole/123"},
        "oralDiet": {"type": [{"coding": [{"system": SNOMED, "code": "226211001", "display": "Pureed diet"}],
                               "text": "Pureed diet"}]},
    }
    medication = b.draft_order("adalimumab", patient=pid, rid="smart-MedicationRequest-103", authored="2026-11-24",
                               extra={"encounter": {"reference": "Encounter/89284"},
                                      "dosageInstruction": [{"text": "40 mg every other week",
                                                             "timing": {"repeat": {"frequency": 1, "period": 2,
                                                                                   "periodUnit": "wk"}},
                                                             "doseAndRate": {"doseQuantity": {
                                                                 "value": 40, "unit": "mg",
                                                                 "system": "http://unitsofmeasure.org",
                                                                 "code": "mg"}}}]})
    selections = ["NutritionOrder/pureeddiet-simple"] + (["MedicationRequest/smart-MedicationRequest-103"]
                                                         if select_medication else [])
    return _request(case, pid, {"resourceType": "Bundle", "entry": [{"resource": nutrition}, {"resource": medication}]},
                    _prefetch(b.patient(pid), medicationRequests=[_match(_adalimumab_failed(pid))],
                              conditions=[_match(_as(pid))]),
                    selections=selections, user="PractitionerRole/123", encounterId="89284")


def crd_contained(case: str, pid: str) -> dict[str, Any]:
    """Da Vinci CRD: the draft names its drug through a contained Medication (``#med1``, RxNorm-coded), its subject,
    requester and encounter are absolute references, and the draft entry has an absolute ``fullUrl``."""
    draft = {
        "resourceType": "MedicationRequest", "id": "smart-MedicationRequest-crd", "status": "draft", "intent": "order",
        "contained": [{"resourceType": "Medication", "id": "med1", "code": {"coding": [
            {"system": RXNORM, "code": "849599",
             "display": "1 ML certolizumab pegol 200 MG/ML Prefilled Syringe [Cimzia]"}]}}],
        "medicationReference": {"reference": "#med1"},
        "subject": {"reference": f"{BASE}/Patient/{pid}"},
        "encounter": {"reference": f"{BASE}/Encounter/enc-crd-1"},
        "authoredOn": "2026-11-24", "requester": {"reference": f"{BASE}/Practitioner/pract-crd-1"},
        "dosageInstruction": [{"text": "400 mg at weeks 0, 2 and 4, then 200 mg every 2 weeks"}],
    }
    orders = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"{BASE}/MedicationRequest/{draft['id']}", "resource": draft}]}
    return _request(case, pid, orders,
                    _prefetch(b.patient(pid), medicationRequests=[_match(_adalimumab_failed(pid))],
                              conditions=[_match(_as(pid))]),
                    selections=[f"MedicationRequest/{draft['id']}"])


def us_core_include(case: str, pid: str, *, include_history_medication: bool) -> dict[str, Any]:
    """US Core: the history and the draft name their drug only by ``Medication/<id>`` (no display); the medication
    search's ``_include`` brings the formulary Medication (``search.mode: include``). Without it, the history's
    reference is unresolved."""
    humira = {"resourceType": "Medication", "id": "formulary-humira-pen",
              "code": {"coding": [{"system": RXNORM, "code": "1872980"}]}}  # the SBD only, no display
    rinvoq = {"resourceType": "Medication", "id": "formulary-rinvoq-15",
              "code": {"coding": [{"system": RXNORM, "code": "2196092", "display": "upadacitinib"}],
                       "text": "Rinvoq 15 mg extended-release tablet"}}
    history = _adalimumab_failed(pid, medicationReference={"reference": "Medication/formulary-humira-pen"})
    draft = {"resourceType": "MedicationRequest", "id": "draft-upadacitinib", "status": "draft", "intent": "order",
             "medicationReference": {"reference": "Medication/formulary-rinvoq-15"},
             "subject": {"reference": f"Patient/{pid}"}, "authoredOn": "2026-11-24"}
    entries = [_match(history), _include(rinvoq)]
    if include_history_medication:
        entries.insert(1, _include(humira))
    return _request(case, pid, b.bundle([draft], "collection"),
                    _prefetch(b.patient(pid), medicationRequests=entries, conditions=[_match(_as(pid))]),
                    selections=[f"MedicationRequest/{draft['id']}"])


def oracle_local_code_first(case: str, pid: str) -> dict[str, Any]:
    """Oracle Health Millennium: the draft's contained Medication lists Millennium's own 'synonym' coding first; its
    number (140587) equals celecoxib's RxCUI, the RxNorm coding after it is tofacitinib."""
    draft = {
        "resourceType": "MedicationRequest", "id": "313757847", "status": "draft", "intent": "order",
        "contained": [{"resourceType": "Medication", "id": "313757847-1", "code": {
            "coding": [{"system": CERNER_SYNONYM, "code": "140587", "display": "tofacitinib 5 mg oral tablet",
                        "userSelected": True},
                       {"system": RXNORM, "code": "1357536", "display": "tofacitinib", "userSelected": False}],
            "text": "tofacitinib 5 mg oral tablet"}}],
        "medicationReference": {"reference": "#313757847-1", "display": "tofacitinib 5 mg oral tablet"},
        "subject": {"reference": f"Patient/{pid}", "display": "Fixture, Patient"},
        "authoredOn": "2026-11-24",
    }
    return _request(case, pid, b.bundle([draft], "collection"),
                    _prefetch(b.patient(pid), conditions=[_match(_as(pid))]),
                    selections=[f"MedicationRequest/{draft['id']}"])


def icd10cm_oid(case: str, pid: str, *, system: str) -> dict[str, Any]:
    """AS recorded only as ICD-10-CM M45.9, its system written as ``system`` (the OID, in C-CDA heritage)."""
    condition = b.condition("c-as-icd", patient=pid, text=None, onset="2016-05-01")
    condition["code"] = {"coding": [{"system": system, "code": "M45.9",
                                     "display": "Ankylosing spondylitis of unspecified sites in spine"}]}
    draft = b.draft_order("methotrexate", patient=pid, rid="draft-mtx", text="methotrexate 2.5 mg tablet",
                          dose="15 mg once weekly")
    return _request(case, pid, b.bundle([draft], "collection"),
                    _prefetch(b.patient(pid), conditions=[_match(condition)]), selections=["MedicationRequest/draft-mtx"])


def epic_long_id(case: str, pid: str) -> dict[str, Any]:
    """An Epic-style draft id: 180 characters with dots, in ``selections`` and on the draft."""
    draft = b.draft_order("adalimumab", patient=pid, rid=EPIC_DRAFT_ID, authored="2026-11-24")
    return _request(case, pid, b.bundle([draft], "collection"),
                    _prefetch(b.patient(pid), medicationRequests=[_match(_adalimumab_failed(pid))],
                              conditions=[_match(_as(pid))]),
                    selections=[f"MedicationRequest/{EPIC_DRAFT_ID}"])


def product_code_only(case: str, pid: str) -> dict[str, Any]:
    """An EHR medication picker codes the product, not the ingredient: the draft carries only the Humira pen SBD
    (1872980), no display, no text."""
    draft = b.draft_order("adalimumab", patient=pid, rid="draft-humira-pen", authored="2026-11-24")
    draft["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "1872980"}]}
    return _request(case, pid, b.bundle([draft], "collection"),
                    _prefetch(b.patient(pid), medicationRequests=[_match(_adalimumab_failed(pid))],
                              conditions=[_match(_as(pid))]),
                    selections=["MedicationRequest/draft-humira-pen"])


# --- Synthea ---------------------------------------------------------------------------------------------------


def _synthea_resources(pid: str, *, v3: bool) -> list[tuple[str, dict[str, Any]]]:
    """(fullUrl, resource) of a Synthea patient with AS: every reference a ``urn:uuid`` fullUrl, Encounter links,
    refills as repeated MedicationRequests with ``authoredOn`` only, no MedicationStatement. Synthea 2019 codes the
    medication inline; Synthea 3.x points each request at a separate Medication resource."""
    def urn(name: str) -> str:
        return f"urn:uuid:{_uuid(pid, name)}"

    patient = {**b.patient(pid), "id": pid}
    out: list[tuple[str, dict[str, Any]]] = [(f"urn:uuid:{pid}", patient)]
    enc = {"resourceType": "Encounter", "id": _uuid(pid, "enc-1"), "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
           "type": [{"coding": [{"system": SNOMED, "code": "185345009", "display": "Encounter for symptom"}],
                     "text": "Encounter for symptom"}],
           "subject": {"reference": f"urn:uuid:{pid}"}, "period": {"start": "2019-02-01T09:00:00-05:00",
                                                                  "end": "2019-02-01T09:30:00-05:00"}}
    out.append((urn("enc-1"), enc))
    condition = {"resourceType": "Condition", "id": _uuid(pid, "as"),
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]},
                 "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                    "code": "confirmed"}]},
                 "code": {"coding": [{"system": SNOMED, "code": "9631008", "display": "Ankylosing spondylitis"}],
                          "text": "Ankylosing spondylitis"},
                 "subject": {"reference": f"urn:uuid:{pid}"}, "encounter": {"reference": urn("enc-1")},
                 "onsetDateTime": "2019-02-01T09:00:00-05:00", "recordedDate": "2019-02-01T09:00:00-05:00"}
    out.append((urn("as"), condition))
    courses = [  # (name, RxNorm code, display, authoredOn of each fill, final status)
        ("naproxen", "198014", "Naproxen 500 MG Oral Tablet", ["2019-02-01", "2019-03-01", "2019-04-01"], "stopped"),
        ("etanercept", "1653225", "1 ML etanercept 50 MG/ML Auto-Injector [Enbrel]",
         ["2019-06-03", "2019-09-02", "2019-12-02", "2020-03-02"], "stopped"),
        ("adalimumab", "1872980", "0.4 ML adalimumab 100 MG/ML Auto-Injector [Humira]",
         ["2020-04-06", "2020-07-06", "2020-10-05", "2021-01-04"], "stopped"),
    ]
    for name, code, display, fills, status in courses:
        concept = {"coding": [{"system": RXNORM, "code": code, "display": display}], "text": display}
        if v3:
            out.append((urn(f"med-{name}"), {"resourceType": "Medication", "id": _uuid(pid, f"med-{name}"),
                                             "code": concept, "status": "active"}))
        for i, authored in enumerate(fills):
            mr: dict[str, Any] = {
                "resourceType": "MedicationRequest", "id": _uuid(pid, f"mr-{name}-{i}"),
                "status": status if i == len(fills) - 1 else "completed", "intent": "order",
                "subject": {"reference": f"urn:uuid:{pid}"}, "encounter": {"reference": urn("enc-1")},
                "authoredOn": f"{authored}T09:00:00-05:00", "requester": {"display": "Dr. Rheum Synthea"},
            }
            if v3:
                mr["medicationReference"] = {"reference": urn(f"med-{name}")}
            else:
                mr["medicationCodeableConcept"] = concept
            out.append((urn(f"mr-{name}-{i}"), mr))
    return out


def synthea_bundle(pid: str, *, v3: bool) -> dict[str, Any]:
    """The patient's transaction Bundle as Synthea writes it (POST, urn:uuid fullUrls)."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": url, "resource": res, "request": {"method": "POST", "url": res["resourceType"]}}
        for url, res in _synthea_resources(pid, v3=v3)]}


def synthea_request(case: str, pid: str, order: dict[str, Any], *, v3: bool) -> dict[str, Any]:
    """What the offline evaluator builds from :func:`synthea_bundle` with ``order`` as the draft."""
    resources = _synthea_resources(pid, v3=v3)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for url, res in resources:
        by_type.setdefault(res["resourceType"], []).append(_match(res, url))
    medications = [{**e, "search": {"mode": "include"}} for e in by_type.get("Medication", [])]
    prefetch = _prefetch(resources[0][1], medicationRequests=by_type["MedicationRequest"] + medications,
                         conditions=by_type["Condition"])
    req = _request(case, pid, {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]},
                   prefetch, selections=[f"MedicationRequest/{order['id']}"],
                   user="Practitioner/offline-evaluation")
    return req


# --- the sandbox ------------------------------------------------------------------------------------------------


def sandbox(source: Path, case: str) -> dict[str, Any]:
    """The request the CDS Hooks sandbox sent (its ``fhirServer`` was a local test server: the fixtures name the
    placeholder server instead, which no test reaches)."""
    req = copy.deepcopy(json.loads(source.read_text()))
    req["fhirServer"] = BASE
    return req
