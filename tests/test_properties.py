"""Hypothesis properties of the record -> history -> recommendation mapping (hooks.evaluate, no HTTP).

1. Any mix of valid R4 MedicationStatements, MedicationRequests, Conditions and AllergyIntolerances (coded or
   free text, any status, dates or none, reasons or none) never crashes, and the cards are CDS Hooks 2.0 clean.
2. Adding an unrelated resource (an atorvastatin statement, a penicillin allergy, an unrelated Condition) never
   changes the recommendation (card summaries, indicators, suggested drugs) nor the classified history.
3. Reordering the entries never changes the recommendation nor the classified history.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cds import seed_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hooks
from service.cds import CDSResponse

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
TODAY = date(2026, 11, 24)
PATIENT = "seed-patient"

# (generic, RxNorm ingredient, free-text forms)
DRUGS = [
    ("etanercept", "214555", ["Enbrel 50 mg SC weekly", "Erelzi"]),
    ("adalimumab", "327361", ["Humira 40 mg", "adalimumab-adaz (Hyrimoz)"]),
    ("infliximab", "191831", ["Remicade", "Inflectra infusion"]),
    ("golimumab", "819300", ["Simponi"]),
    ("certolizumab", "709271", ["Cimzia 200 mg"]),
    ("secukinumab", "1599788", ["Cosentyx 150 mg"]),
    ("ixekizumab", "1745099", ["Taltz"]),
    ("upadacitinib", "2196092", ["Rinvoq 15 mg daily"]),
    ("tofacitinib", "1357536", ["Xeljanz 5 mg BID"]),
    ("celecoxib", "140587", ["Celebrex 200 mg"]),
    ("naproxen", "7258", ["Naprosyn 500 mg BID"]),
    ("methotrexate", "6851", ["MTX 15 mg weekly"]),
    ("sulfasalazine", "9524", ["Azulfidine"]),
    ("prednisone", "8640", ["prednisone taper"]),
]
STOP_REASONS = ["Not effective - no relief", "Secondary loss of response", "Injection site reaction",
                "Recurrent infections", "Patient preference", "Insurance", "Elevated liver enzymes", "Rash"]
CONDITIONS = [
    ("9631008", "M45.9", "Ankylosing spondylitis"),
    ("", "M45.A0", "Non-radiographic axial spondyloarthritis"),
    ("410692006", "H20.0", "Acute anterior uveitis"),
    ("9014002", "L40.0", "Psoriasis"),
    ("34000006", "K50.90", "Crohn's disease"),
    ("84114007", "I50.9", "Heart failure"),
    ("11999007", "Z22.7", "Latent tuberculosis"),
    ("235595009", "K21.9", "GERD"),
]
ALLERGENS = [("214555", RXNORM, "etanercept"), ("327361", RXNORM, "adalimumab"), ("1599788", RXNORM, "secukinumab"),
             ("", "", "Humira"), ("256349002", SNOMED, "Peanut")]

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 11, 1)).map(date.isoformat)
ids = st.integers(min_value=0, max_value=10**6).map(str)


@st.composite
def medication_concepts(draw) -> dict[str, Any]:
    name, rxcui, texts = draw(st.sampled_from(DRUGS))
    style = draw(st.sampled_from(["coded", "coded+text", "text"]))
    concept: dict[str, Any] = {}
    if style != "text":
        concept["coding"] = [{"system": RXNORM, "code": rxcui, "display": name}]
    if style != "coded":
        concept["text"] = draw(st.sampled_from(texts + [name]))
    return concept


@st.composite
def medication_statements(draw) -> dict[str, Any]:
    ms: dict[str, Any] = {
        "resourceType": "MedicationStatement", "id": "ms-" + draw(ids),
        "status": draw(st.sampled_from(["active", "completed", "stopped", "on-hold", "unknown", "not-taken",
                                        "entered-in-error", "intended"])),
        "medicationCodeableConcept": draw(medication_concepts()),
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    when = draw(st.sampled_from(["period", "open", "datetime", "none"]))
    start = draw(dates)
    if when == "period":
        ms["effectivePeriod"] = {"start": start, "end": max(start, draw(dates))}
    elif when == "open":
        ms["effectivePeriod"] = {"start": start}
    elif when == "datetime":
        ms["effectiveDateTime"] = start
    if draw(st.booleans()):
        ms["statusReason"] = [{"text": draw(st.sampled_from(STOP_REASONS))}]
    if draw(st.booleans()):
        ms["note"] = [{"text": draw(st.sampled_from(STOP_REASONS + ["doing well"]))}]
    return ms


@st.composite
def medication_requests(draw) -> dict[str, Any]:
    mr: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": "mr-" + draw(ids),
        "status": draw(st.sampled_from(["active", "completed", "stopped", "cancelled", "on-hold", "draft"])),
        "intent": "order", "medicationCodeableConcept": draw(medication_concepts()),
        "subject": {"reference": f"Patient/{PATIENT}"}, "authoredOn": draw(dates),
    }
    if draw(st.booleans()):
        mr["statusReason"] = {"text": draw(st.sampled_from(STOP_REASONS))}
    return mr


@st.composite
def conditions(draw) -> dict[str, Any]:
    snomed, icd, text = draw(st.sampled_from(CONDITIONS))
    code: dict[str, Any] = {"text": text}
    coding = []
    if snomed and draw(st.booleans()):
        coding.append({"system": SNOMED, "code": snomed, "display": text})
    if draw(st.booleans()):
        coding.append({"system": ICD10, "code": icd, "display": text})
    if coding:
        code["coding"] = coding
    res: dict[str, Any] = {
        "resourceType": "Condition", "id": "c-" + draw(ids), "code": code,
        "subject": {"reference": f"Patient/{PATIENT}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": draw(st.sampled_from(["active", "resolved", "inactive"]))}]},
    }
    if draw(st.booleans()):
        res["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": draw(st.sampled_from(["confirmed", "provisional", "refuted", "entered-in-error"]))}]}
    if draw(st.booleans()):
        res["onsetDateTime"] = draw(dates)
    return res


@st.composite
def allergies(draw) -> dict[str, Any]:
    code, system, text = draw(st.sampled_from(ALLERGENS))
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance", "id": "a-" + draw(ids), "code": concept,
        "patient": {"reference": f"Patient/{PATIENT}"},
        "type": draw(st.sampled_from(["allergy", "intolerance"])),
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": draw(st.sampled_from(["active", "inactive", "resolved"]))}]},
    }
    if draw(st.booleans()):
        res["reaction"] = [{"manifestation": [{"text": draw(st.sampled_from(["Hives", "Anaphylaxis", "Rash"]))}]}]
    return res


def _unique(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for res in resources:
        if res["id"] not in seen:
            seen.add(res["id"])
            out.append(res)
    return out


records = st.fixed_dictionaries({
    "medication_statements": st.lists(medication_statements(), max_size=12).map(_unique),
    "medication_requests": st.lists(medication_requests(), max_size=4).map(_unique),
    # the AS condition is always there in half of the cases, so that cards are produced
    "conditions": st.tuples(st.booleans(), st.lists(conditions(), max_size=5)).map(
        lambda t: _unique(([_seed_resources("conditions")[0]] if t[0] else []) + t[1])),
    "allergies": st.lists(allergies(), max_size=4).map(_unique),
})
draft_drugs = st.sampled_from([d for d in DRUGS if d[0] not in ("celecoxib", "naproxen")])


def _seed_resources(key: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in seed_request()["prefetch"][key]["entry"]]


def hook_input(record: dict[str, Any], drug: tuple[str, str, list[str]]) -> hooks.HookInput:
    name, rxcui, _ = drug
    draft = {"resourceType": "MedicationRequest", "id": "draft-1", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui, "display": name}],
                                           "text": name},
             "subject": {"reference": f"Patient/{PATIENT}"}}
    data = hooks.PatientData(
        patient=seed_request()["prefetch"]["patient"],
        medication_statements=tuple(record["medication_statements"]),
        medication_requests=tuple(record["medication_requests"]),
        conditions=tuple(record["conditions"]),
        allergies=tuple(record["allergies"]),
    )
    return hooks.HookInput(hook="order-select", hook_instance="b7c1a0de-0000-4000-8000-000000000001",
                           patient_id=PATIENT, user_id="Practitioner/example",
                           draft_orders={"resourceType": "Bundle", "type": "collection",
                                         "entry": [{"resource": draft}]},
                           selections=("MedicationRequest/draft-1",), data=data, today=TODAY)


def recommendation(evaluation: hooks.Evaluation) -> list[tuple[Any, ...]]:
    """What the clinician is told to do: each card's summary, indicator and suggested drugs."""
    out = []
    for card in evaluation.cards:
        suggested = tuple(s.label for s in card.suggestions or ())
        out.append((card.summary, card.indicator, suggested))
    return out


def classified_history(evaluation: hooks.Evaluation) -> list[tuple[Any, ...]]:
    """The courses as classified (drug, dates, status, stop reason, the records merged), order-independent."""
    return sorted(
        (c.drug, c.start, c.end, c.status, c.stop_reason, tuple(sorted(c.sources))) for c in evaluation.history
    )


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY_SETTINGS
@given(record=records, drug=draft_drugs)
def test_any_mix_of_valid_resources_never_crashes(record, drug):
    evaluation = hooks.evaluate(hook_input(record, drug))
    CDSResponse.model_validate({"cards": [c.model_dump(mode="json", exclude_none=True) for c in evaluation.cards]})
    for card in evaluation.cards:
        assert 0 < len(card.summary) < 140


UNRELATED = {
    "atorvastatin statement": ("medication_statements", {
        "resourceType": "MedicationStatement", "id": "unrelated-atorvastatin", "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "83367", "display": "atorvastatin"}],
                                      "text": "Lipitor 20 mg nightly"},
        "subject": {"reference": f"Patient/{PATIENT}"}, "effectivePeriod": {"start": "2019-02-01"}}),
    "penicillin allergy": ("allergies", {
        "resourceType": "AllergyIntolerance", "id": "unrelated-penicillin", "type": "allergy",
        "code": {"coding": [{"system": RXNORM, "code": "7980", "display": "Penicillin G"}], "text": "Penicillin"},
        "patient": {"reference": f"Patient/{PATIENT}"},
        "reaction": [{"manifestation": [{"text": "Hives"}]}]}),
    "GERD condition": ("conditions", {
        "resourceType": "Condition", "id": "unrelated-gerd",
        "code": {"coding": [{"system": SNOMED, "code": "235595009", "display": "Gastro-oesophageal reflux disease"}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]}}),
    "hypertension condition": ("conditions", {
        "resourceType": "Condition", "id": "unrelated-hypertension",
        "code": {"coding": [{"system": SNOMED, "code": "38341003", "display": "Hypertensive disorder"}],
                 "text": "Hypertension"},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]}}),
}


@PROPERTY_SETTINGS
@given(record=records, drug=draft_drugs, which=st.sampled_from(sorted(UNRELATED)), at=st.integers(0, 20))
def test_an_unrelated_resource_never_changes_the_recommendation(record, drug, which, at):
    before = hooks.evaluate(hook_input(record, drug))
    key, resource = UNRELATED[which]
    extended = dict(record)
    items = list(record[key])
    items.insert(min(at, len(items)), resource)
    extended[key] = items
    after = hooks.evaluate(hook_input(extended, drug))
    assert recommendation(after) == recommendation(before), which
    assert classified_history(after) == classified_history(before), which


@PROPERTY_SETTINGS
@given(record=records, drug=draft_drugs, data=st.data())
def test_reordering_entries_never_changes_the_recommendation(record, drug, data):
    before = hooks.evaluate(hook_input(record, drug))
    shuffled = {key: data.draw(st.permutations(items), label=key) for key, items in record.items()}
    after = hooks.evaluate(hook_input(shuffled, drug))
    assert recommendation(after) == recommendation(before)
    assert classified_history(after) == classified_history(before)
    assert after.diagnosis == before.diagnosis
