"""Small builders for FHIR R4 resources and hook inputs used by the clinical tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from hooks.contract import HookInput, PatientData

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
TODAY = date(2026, 11, 24)
PATIENT_ID = "p1"

# RxNorm ingredient codes from hooks/knowledge/drugs.toml
RX = {
    "etanercept": "214555", "adalimumab": "327361", "infliximab": "191831", "certolizumab": "709271",
    "golimumab": "819300", "secukinumab": "1599788", "ixekizumab": "1745099", "upadacitinib": "2196092",
    "tofacitinib": "1357536", "celecoxib": "140587", "methotrexate": "6851", "sulfasalazine": "9524",
    "prednisone": "8640",
}
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def concept(drug: str | None = None, text: str | None = None, code: str | None = None) -> dict[str, Any]:
    cc: dict[str, Any] = {}
    code = code or (RX.get(drug) if drug else None)
    if code:
        cc["coding"] = [{"system": RXNORM, "code": code, "display": drug or ""}]
    if text:
        cc["text"] = text
    return cc


def statement(
    drug: str | None = None, *, text: str | None = None, code: str | None = None, status: str = "stopped",
    start: str | None = None, end: str | None = None, reason: str | None = None, note: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement", "id": id or _id("ms"), "status": status,
        "medicationCodeableConcept": concept(drug, text, code), "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if start or end:
        res["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if reason:
        res["statusReason"] = [{"text": reason}]
    if note:
        res["note"] = [{"text": note}]
    return res


def request(
    drug: str | None = None, *, text: str | None = None, status: str = "completed", authored: str | None = None,
    reason: str | None = None, end: str | None = None, id: str | None = None,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": id or _id("mr"), "status": status, "intent": "order",
        "medicationCodeableConcept": concept(drug, text), "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if authored:
        res["authoredOn"] = authored
    if end:
        res["dispenseRequest"] = {"validityPeriod": {"start": authored, "end": end}}
    if reason:
        res["statusReason"] = {"text": reason}
    return res


def condition(
    *, snomed: str | None = None, icd: str | None = None, text: str | None = None, clinical: str | None = "active",
    verification: str | None = "confirmed", id: str | None = None,
) -> dict[str, Any]:
    codings = []
    if snomed:
        codings.append({"system": SNOMED, "code": snomed})
    if icd:
        codings.append({"system": ICD10, "code": icd})
    code: dict[str, Any] = {"coding": codings} if codings else {}
    if text:
        code["text"] = text
    res: dict[str, Any] = {"resourceType": "Condition", "id": id or _id("c"), "code": code,
                           "subject": {"reference": f"Patient/{PATIENT_ID}"}}
    if clinical:
        res["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        res["verificationStatus"] = {"coding": [{"code": verification}]}
    return res


def allergy(drug: str, *, kind: str = "intolerance", reaction: str | None = None, id: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance", "id": id or _id("ai"), "type": kind, "category": ["medication"],
        "clinicalStatus": {"coding": [{"code": "active"}]}, "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": concept(drug), "patient": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if reaction:
        res["reaction"] = [{"manifestation": [{"text": reaction}]}]
    return res


AS = condition(snomed="9631008", icd="M45.9", text="Ankylosing spondylitis", id="c-as")
NR_AXSPA = condition(icd="M45.A0", text="Non-radiographic axial spondyloarthritis", id="c-nr")
IBD = condition(snomed="34000006", icd="K50.90", text="Crohn's disease", id="c-ibd")
UVEITIS = condition(icd="H20.021", text="Recurrent acute iridocyclitis, right eye", id="c-uv")
PSORIASIS = condition(snomed="9014002", icd="L40.0", text="Psoriasis vulgaris", id="c-pso")
HEART_FAILURE = condition(snomed="84114007", icd="I50.9", text="Heart failure", id="c-hf")
MS = condition(snomed="24700007", icd="G35", text="Multiple sclerosis", id="c-ms")
ACTIVE_TB = condition(snomed="56717001", icd="A15.0", text="Tuberculosis of lung", id="c-tb")
LATENT_TB = condition(icd="Z22.7", text="Latent tuberculosis", id="c-ltb")
HBV = condition(icd="B18.1", text="Chronic viral hepatitis B", id="c-hbv")
PREGNANCY = condition(snomed="77386006", text="Pregnant", id="c-preg")


def draft(drug: str, *, text: str | None = None, id: str | None = None, resource_type: str = "MedicationRequest") -> dict[str, Any]:
    return {
        "resourceType": resource_type, "id": id or f"draft-{drug}", "status": "draft", "intent": "order",
        "medicationCodeableConcept": concept(drug, text or drug), "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def hook_input(
    order: str | dict[str, Any] | None = "upadacitinib", *, conditions=(AS,), statements=(), requests=(), allergies=(),
    birth_date: str | None = "1984-03-02", hook: str = "order-select", orders: tuple[dict[str, Any], ...] = (),
    unavailable: frozenset[str] = frozenset(), hook_instance: str = "hi-1",
) -> HookInput:
    """A hook input selecting ``order`` (a drug key or a draft resource), with the given record."""
    drafts = list(orders)
    if order is not None:
        drafts.insert(0, order if isinstance(order, dict) else draft(order))
    selections = (f"{drafts[0]['resourceType']}/{drafts[0]['id']}",) if hook == "order-select" and drafts else ()
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth_date} if birth_date else None
    return HookInput(
        hook=hook, hook_instance=hook_instance, patient_id=PATIENT_ID, user_id="Practitioner/x",
        draft_orders=bundle(*drafts), selections=selections,
        data=PatientData(patient=patient, medication_statements=tuple(statements), medication_requests=tuple(requests),
                         conditions=tuple(conditions), allergies=tuple(allergies), unavailable=unavailable),
        today=TODAY,
    )


def suggested_drugs(card: dict[str, Any]) -> list[str]:
    """First word of each suggested MedicationRequest's medication text (as the fixture runner reads it)."""
    out = []
    for s in card.get("suggestions", []):
        for a in s.get("actions", []):
            if a["type"] == "create":
                out.append(a["resource"]["medicationCodeableConcept"]["text"].split(" ")[0])
    return out


def recommended_drug(card: dict[str, Any]) -> str | None:
    for s in card.get("suggestions", []):
        if s.get("isRecommended"):
            for a in s["actions"]:
                if a["type"] == "create":
                    return a["resource"]["medicationCodeableConcept"]["text"].split(" ")[0]
    return None


def main_card(cards: list[dict[str, Any]]) -> dict[str, Any]:
    [card] = [c for c in cards if c["indicator"] != "critical"]
    return card
