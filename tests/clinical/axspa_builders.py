"""Short forms of the shared FHIR builders (fhir_fixtures/builders.py) for the clinical tests: one patient ("p1"),
generated ids, and what a test reads back from the cards. No FHIR shape is defined here."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from fhir_fixtures import builders as b
from hooks.contract import HookInput, HookSettings, PatientData
from hooks.response import Card

RXNORM, SNOMED, ICD10 = b.RXNORM, b.SNOMED, b.ICD10
TODAY = date(2026, 11, 24)
PATIENT_ID = "p1"
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def concept(drug: str | None = None, text: str | None = None, code: str | None = None) -> dict[str, Any]:
    return b.concept(drug, text=text, code=code)


def statement(drug: str | None = None, *, text: str | None = None, code: str | None = None, status: str = "stopped",
              start: str | None = None, end: str | None = None, reason: str | None = None, note: str | None = None,
              reason_codes: tuple[tuple[str, str, str], ...] = (), id: str | None = None) -> dict[str, Any]:
    return b.medication_statement(id or _id("ms"), drug, patient=PATIENT_ID, start=start, end=end, status=status,
                                  reason=reason, reason_codes=reason_codes, note=note, text=text, code=code)


def request(drug: str | None = None, *, text: str | None = None, status: str = "completed", authored: str | None = None,
            reason: str | None = None, end: str | None = None, id: str | None = None) -> dict[str, Any]:
    return b.medication_request(id or _id("mr"), drug, patient=PATIENT_ID, authored=authored, end=end, status=status,
                                reason=reason, text=text)


def condition(key: str | None = None, *, snomed: str | None = None, icd: str | None = None, text: str | None = None,
              clinical: str | None = "active", verification: str | None = "confirmed", onset: str | None = None,
              abatement: str | None = None, recorded: str | None = None, id: str | None = None) -> dict[str, Any]:
    return b.condition(id or _id("c"), key, patient=PATIENT_ID, snomed=snomed, icd=icd, text=text, clinical=clinical,
                       verification=verification, onset=onset, abatement=abatement, recorded=recorded)


def allergy(drug: str, *, kind: str = "intolerance", reaction: str | None = None, id: str | None = None) -> dict[str, Any]:
    return b.allergy(id or _id("ai"), drug, patient=PATIENT_ID, kind=kind, reaction=reaction)


def observation(kind: str, value: str | None = None, *, when: str | None = "2026-10-01", status: str = "final",
                quantity: float | None = None, unit: str | None = None, value_text: str | None = None,
                id: str | None = None) -> dict[str, Any]:
    return b.observation(id or _id("obs"), kind, patient=PATIENT_ID, value=value, when=when, status=status,
                         quantity=quantity, unit=unit, value_text=value_text)


def draft(drug: str, *, text: str | None = None, id: str | None = None,
          resource_type: str = "MedicationRequest") -> dict[str, Any]:
    return b.draft_order(drug, patient=PATIENT_ID, rid=id or f"draft-{drug}", text=text or drug,
                         resource_type=resource_type)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return b.bundle(resources, "collection")


AS = condition("as", id="c-as")
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
SEPSIS = condition("sepsis", id="c-sepsis", onset="2026-11-20")


def hook_input(
    order: str | dict[str, Any] | None = "upadacitinib", *, conditions=(AS,), statements=(), requests=(), allergies=(),
    observations=(), birth_date: str | None = "1984-03-02", gender: str | None = "male", hook: str = "order-select",
    orders: tuple[dict[str, Any], ...] = (), unavailable: frozenset[str] = frozenset(), hook_instance: str = "hi-1",
    settings: HookSettings | None = None,
) -> HookInput:
    """A hook input selecting ``order`` (a drug key or a draft resource), with the given record."""
    drafts = list(orders)
    if order is not None:
        drafts.insert(0, order if isinstance(order, dict) else draft(order))
    selections = (f"{drafts[0]['resourceType']}/{drafts[0]['id']}",) if hook == "order-select" and drafts else ()
    patient = b.patient(PATIENT_ID, birth=birth_date, gender=gender) if birth_date else None
    return HookInput(
        hook=hook, hook_instance=hook_instance, patient_id=PATIENT_ID, user_id="Practitioner/x",  # type: ignore[arg-type]
        draft_orders=bundle(*drafts), selections=selections,
        data=PatientData(patient=patient, medication_statements=tuple(statements), medication_requests=tuple(requests),
                         conditions=tuple(conditions), allergies=tuple(allergies), observations=tuple(observations),
                         unavailable=unavailable),
        today=TODAY, settings=settings or HookSettings(),
    )


# ------------------------------------------------------------------------------------- reading cards back


def created(card: Card) -> list[tuple[bool, str]]:
    """(recommended, drug) for every MedicationRequest the card's suggestions create; the drug is the first word of
    the medication text (the engine guarantees the lowercase generic)."""
    out = []
    for s in card.suggestions or []:
        for a in s.actions or []:
            if a.type == "create" and a.resource and a.resource.get("resourceType") == "MedicationRequest":
                out.append((bool(s.isRecommended), a.resource["medicationCodeableConcept"]["text"].split(" ")[0]))
    return out


def suggested_drugs(card: Card) -> list[str]:
    return [drug for _, drug in created(card)]


def recommended_drug(card: Card) -> str | None:
    return next((drug for recommended, drug in created(card) if recommended), None)


def topic(card: Card) -> str:
    """The rules.toml id of the rule that produced the card."""
    assert card.source.topic is not None
    return card.source.topic.code


def fired(cards: list[Card]) -> set[str]:
    return {topic(c) for c in cards}


def main_card(cards: list[Card]) -> Card:
    [card] = [c for c in cards if c.indicator != "critical"]
    return card
