"""Deterministic synthetic patient histories around the seed patient, for the benchmark and the tests.

``history_request(n_statements)`` returns the seed order-select request whose prefetch carries
``n_statements`` MedicationStatements, ``n_statements // 5`` Conditions and ``n_statements // 20``
AllergyIntolerances (1,000 -> 200 -> 50), generated with a fixed seed: the same call always returns the
same bytes. The seed patient's own resources (etanercept intolerance, upadacitinib failure, celecoxib,
the AS Condition, the etanercept allergy) are always included, so the clinical story stays recognisable;
the rest is a realistic mix of coded (RxNorm / SNOMED / ICD-10) and free-text-only entries, many drugs
(axSpA-relevant and unrelated), every MedicationStatement status, periods and single dates, status
reasons, notes and dosage text.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The README's seed request (the case the project was born from): etanercept injection-site reaction,
# upadacitinib primary non-response, celecoxib limited relief; the clinician selects upadacitinib again.
SEED_REQUEST = REPO / "fhir_fixtures" / "seed" / (
    "in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard.request.json")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
PATIENT = "seed-patient"

# (generic, RxNorm ingredient or "", brand/free-text forms, dose text)
DRUGS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("etanercept", "214555", ("Enbrel 50 mg SC weekly", "Erelzi 50mg/wk"), "50 mg SC once weekly"),
    ("adalimumab", "327361", ("Humira 40 mg pen", "Hyrimoz 40mg eow"), "40 mg SC every other week"),
    ("infliximab", "191831", ("Remicade infusion", "Inflectra 5 mg/kg"), "5 mg/kg IV q6-8 weeks"),
    ("golimumab", "819300", ("Simponi 50 mg monthly",), "50 mg SC monthly"),
    ("certolizumab", "709271", ("Cimzia 200 mg",), "200 mg SC every 2 weeks"),
    ("secukinumab", "1599788", ("Cosentyx 150 mg",), "150 mg SC monthly"),
    ("ixekizumab", "1745099", ("Taltz 80 mg",), "80 mg SC every 4 weeks"),
    ("bimekizumab", "", ("Bimzelx 160 mg",), "160 mg SC every 4 weeks"),
    ("upadacitinib", "2196092", ("Rinvoq 15 mg daily",), "15 mg PO daily"),
    ("tofacitinib", "1357536", ("Xeljanz 5 mg BID",), "5 mg PO twice daily"),
    ("celecoxib", "140587", ("Celebrex 200 mg daily",), "200 mg PO daily"),
    ("naproxen", "7258", ("Naprosyn 500 mg BID", "Aleve OTC"), "500 mg PO twice daily"),
    ("ibuprofen", "5640", ("Advil 400 mg PRN", "Motrin 600"), "400-600 mg PO PRN"),
    ("diclofenac", "3355", ("Voltaren 75 mg",), "75 mg PO twice daily"),
    ("meloxicam", "41493", ("Mobic 15 mg",), "15 mg PO daily"),
    ("indomethacin", "5781", ("Indocin 25 mg TID",), "25 mg PO three times daily"),
    ("etoricoxib", "", ("Arcoxia 90 mg",), "90 mg PO daily"),
    ("methotrexate", "6851", ("MTX 15 mg weekly", "Trexall"), "15 mg PO once weekly"),
    ("sulfasalazine", "9524", ("Azulfidine 1 g BID",), "1 g PO twice daily"),
    ("prednisone", "8640", ("prednisone taper", "Deltasone 10 mg"), "10 mg PO daily, taper"),
    ("methylprednisolone", "6902", ("Medrol dose pack",), "as directed"),
    # unrelated to axSpA
    ("atorvastatin", "83367", ("Lipitor 20 mg",), "20 mg PO nightly"),
    ("metformin", "6809", ("Glucophage 500 mg BID",), "500 mg PO twice daily"),
    ("lisinopril", "29046", ("Zestril 10 mg",), "10 mg PO daily"),
    ("amlodipine", "17767", ("Norvasc 5 mg",), "5 mg PO daily"),
    ("omeprazole", "7646", ("Prilosec 20 mg",), "20 mg PO daily"),
    ("pantoprazole", "40790", ("Protonix 40 mg",), "40 mg PO daily"),
    ("levothyroxine", "10582", ("Synthroid 75 mcg",), "75 mcg PO daily"),
    ("cholecalciferol", "2418", ("Vitamin D3 2000 IU",), "2000 IU PO daily"),
    ("folic acid", "4511", ("folate 1 mg",), "1 mg PO daily"),
    ("sertraline", "36437", ("Zoloft 50 mg",), "50 mg PO daily"),
    ("paracetamol", "161", ("Tylenol 500 mg PRN", "acetaminophen 1 g"), "500-1000 mg PO PRN"),
    ("tramadol", "10689", ("Ultram 50 mg",), "50 mg PO PRN"),
    ("isoniazid", "6038", ("INH 300 mg (LTBI)",), "300 mg PO daily"),
]
MS_STATUSES = ["active", "completed", "stopped", "stopped", "completed", "on-hold", "intended",
               "not-taken", "entered-in-error", "unknown"]
STOP_REASONS = [
    "Not effective - no relief", "Inadequate response after 12 weeks", "Secondary loss of response",
    "Localized skin reaction at injection site", "Recurrent infections", "Elevated liver enzymes",
    "GI upset", "Patient preference", "Insurance denied", "Pregnancy planning", "Course completed",
    "Lost efficacy", "Rash", "Headache", "Cost",
]
NOTES = ["Limited pain relief", "Good response, BASDAI 2.1", "Self-reported", "From outside records",
         "Patient unsure of dates", "Reconciled at visit"]

# (SNOMED, ICD-10-CM, text)
CONDITIONS: list[tuple[str, str, str]] = [
    ("38341003", "I10", "Essential hypertension"),
    ("44054006", "E11.9", "Type 2 diabetes mellitus"),
    ("55822004", "E78.5", "Hyperlipidemia"),
    ("235595009", "K21.9", "Gastro-oesophageal reflux disease"),
    ("195967001", "J45.909", "Asthma"),
    ("35489007", "F32.9", "Depressive disorder"),
    ("410692006", "H20.0", "Acute anterior uveitis"),
    ("9014002", "L40.0", "Psoriasis vulgaris"),
    ("34000006", "K50.90", "Crohn's disease"),
    ("40930008", "E03.9", "Hypothyroidism"),
    ("161891005", "M54.5", "Low back pain"),
    ("69896004", "M06.9", "Rheumatoid arthritis"),
    ("396275006", "M19.90", "Osteoarthritis"),
    ("77176002", "F17.210", "Smoker"),
    ("11999007", "Z22.7", "Latent tuberculosis (positive QuantiFERON)"),
    ("84114007", "I50.9", "Heart failure"),
    ("", "", "Seasonal allergic rhinitis"),
    ("", "", "History of kidney stones"),
    ("", "", "Vitamin D deficiency"),
]
COND_CLINICAL = ["active", "active", "resolved", "inactive", "remission", "recurrence"]
COND_VERIFICATION = ["confirmed", "confirmed", "provisional", "unconfirmed", "refuted", "entered-in-error"]

# (RxNorm or SNOMED substance code, system, text, category)
ALLERGENS: list[tuple[str, str, str, str]] = [
    ("7980", RXNORM, "Penicillin G", "medication"),
    ("10180", RXNORM, "Sulfamethoxazole", "medication"),
    ("2670", RXNORM, "Codeine", "medication"),
    ("1191", RXNORM, "Aspirin", "medication"),
    ("214555", RXNORM, "Enbrel (etanercept)", "medication"),
    ("327361", RXNORM, "adalimumab", "medication"),
    ("256349002", SNOMED, "Peanut", "food"),
    ("111088007", SNOMED, "Latex", "environment"),
    ("", "", "Bee venom", "environment"),
    ("", "", "Shellfish", "food"),
    ("", "", "Contrast media", "medication"),
    ("", "", "Cat dander", "environment"),
]


def load_seed() -> dict[str, Any]:
    """The seed request, with every prefetch key the service's discovery asks for (an EHR that satisfies the
    templates): a key the seed predates (observations) is sent as an empty search, so nothing is fetched."""
    request = json.loads(SEED_REQUEST.read_text())
    prefetch = request.setdefault("prefetch", {})
    prefetch.setdefault("observations", {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})
    return request


def _date(rng: random.Random, start_year: int = 2005, end_year: int = 2026) -> str:
    year = rng.randint(start_year, end_year)
    month = rng.randint(1, 11 if year == 2026 else 12)
    return f"{year:04d}-{month:02d}-{rng.randint(1, 28):02d}"


def _later(rng: random.Random, start: str) -> str:
    y, m, d = (int(p) for p in start.split("-"))
    months = rng.randint(1, 30)
    m += months
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    if (y, m) > (2026, 11):
        y, m = 2026, 11
    return f"{y:04d}-{m:02d}-{d:02d}"


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['resourceType']}-{resource['id']}", "resource": resource,
            "search": {"mode": "match"}}


def medication_statement(rng: random.Random, index: int) -> dict[str, Any]:
    name, rxcui, texts, dose = rng.choice(DRUGS)
    status = rng.choice(MS_STATUSES)
    concept: dict[str, Any]
    style = rng.random()
    if style < 0.6 and rxcui:  # coded with text
        concept = {"coding": [{"system": RXNORM, "code": rxcui, "display": name}], "text": rng.choice(texts)}
    elif style < 0.8:  # free text only (brand or misspelt-ish forms)
        concept = {"text": rng.choice(texts + (name.upper(), f"{name} {dose}"))}
    else:  # a local code system the service does not know, plus text
        concept = {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.9999.1", "code": f"L{index:05d}",
                               "display": rng.choice(texts)}]}
    ms: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": f"gen-ms-{index}",
        "status": status,
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    start = _date(rng)
    if rng.random() < 0.75:
        period: dict[str, str] = {"start": start}
        if status in ("completed", "stopped") or rng.random() < 0.3:
            period["end"] = _later(rng, start)
        ms["effectivePeriod"] = period
    else:
        ms["effectiveDateTime"] = start + ("T09:30:00+01:00" if rng.random() < 0.5 else "")
    ms["dateAsserted"] = ms.get("effectivePeriod", {}).get("end", start)
    if status in ("stopped", "not-taken", "on-hold") and rng.random() < 0.8:
        ms["statusReason"] = [{"text": rng.choice(STOP_REASONS)}]
    if rng.random() < 0.3:
        ms["note"] = [{"text": rng.choice(NOTES)}]
    if rng.random() < 0.5:
        ms["dosage"] = [{"text": dose}]
    return ms


def condition(rng: random.Random, index: int) -> dict[str, Any]:
    snomed, icd, text = rng.choice(CONDITIONS)
    code: dict[str, Any] = {"text": text}
    if snomed:
        code["coding"] = [{"system": SNOMED, "code": snomed, "display": text}]
        if icd and rng.random() < 0.5:
            code["coding"].append({"system": ICD10, "code": icd, "display": text})
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"gen-cond-{index}",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": rng.choice(COND_CLINICAL)}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": rng.choice(COND_VERIFICATION)}]},
        "code": code,
        "subject": {"reference": f"Patient/{PATIENT}"},
        "onsetDateTime": _date(rng, 1995),
    }
    if rng.random() < 0.3:
        res["abatementDateTime"] = _later(rng, res["onsetDateTime"])
    return res


def allergy(rng: random.Random, index: int) -> dict[str, Any]:
    code, system, text, category = rng.choice(ALLERGENS)
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": f"gen-ai-{index}",
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": rng.choice(["active", "active", "inactive", "resolved"])}]},
        "type": rng.choice(["allergy", "intolerance"]),
        "category": [category],
        "criticality": rng.choice(["low", "high", "unable-to-assess"]),
        "code": concept,
        "patient": {"reference": f"Patient/{PATIENT}"},
        "recordedDate": _date(rng),
    }
    if rng.random() < 0.6:
        res["reaction"] = [{"manifestation": [{"text": rng.choice(["Hives", "Rash", "Anaphylaxis", "Nausea",
                                                                     "Injection site reaction"])}],
                            "severity": rng.choice(["mild", "moderate", "severe"])}]
    return res


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [_entry(r) for r in resources]}


def _seed_resources(seed: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = (seed.get("prefetch") or {}).get(key) or {}
    return [e["resource"] for e in value.get("entry", []) if isinstance(e, dict) and "resource" in e]


def history_request(n_statements: int, n_conditions: int | None = None, n_allergies: int | None = None,
                    seed: int = 20261124) -> dict[str, Any]:
    """The seed request with a generated history of the given size (seed resources included in the counts)."""
    base = load_seed()
    request = copy.deepcopy(base)
    n_conditions = n_statements // 5 if n_conditions is None else n_conditions
    n_allergies = n_statements // 20 if n_allergies is None else n_allergies
    rng = random.Random(seed)
    statements = _seed_resources(base, "medicationStatements")
    conditions = _seed_resources(base, "conditions")
    allergies = _seed_resources(base, "allergies")
    statements = statements + [medication_statement(rng, i) for i in range(max(0, n_statements - len(statements)))]
    conditions = conditions + [condition(rng, i) for i in range(max(0, n_conditions - len(conditions)))]
    allergies = allergies + [allergy(rng, i) for i in range(max(0, n_allergies - len(allergies)))]
    rng.shuffle(statements)
    rng.shuffle(conditions)
    prefetch = request["prefetch"]
    prefetch["medicationStatements"] = _bundle(statements)
    prefetch["conditions"] = _bundle(conditions)
    prefetch["allergies"] = _bundle(allergies)
    return request


if __name__ == "__main__":  # python bench/gen.py 1000 > request.json
    import sys

    print(json.dumps(history_request(int(sys.argv[1]) if len(sys.argv) > 1 else 1000), indent=1))
