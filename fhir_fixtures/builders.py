"""FHIR R4 builders for the fixture requests and the clinical tests: one place that knows how a MedicationStatement,
a Condition, an Observation or a CDS Hooks request of this project is shaped.

Used by ``fhir_fixtures/_build.py`` (the fixture generator) and by ``tests/`` (through ``tests/clinical/axspa_builders.py``
and ``tests/test_fixtures.py``). Every date is fixed; "today" for the fixtures is 2026-11-24.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
FHIR_SERVER = "https://ehr.example.org/fhir"
TODAY = "2026-11-24"
PREFETCH_BUNDLES = {  # prefetch key -> (resource type, PatientData field)
    "medicationStatements": ("MedicationStatement", "medication_statements"),
    "medicationRequests": ("MedicationRequest", "medication_requests"),
    "conditions": ("Condition", "conditions"),
    "allergies": ("AllergyIntolerance", "allergies"),
    "observations": ("Observation", "observations"),
}

# ----------------------------------------------------------------------------------------------- drugs
# generic: (RxNorm ingredient RxCUI or None, brand, product text after the generic name, dosage text)
# The RxCUIs are those of hooks/knowledge/drugs.toml (several marked unverified there); bimekizumab has none.
DRUGS: dict[str, tuple[str | None, str, str, str]] = {
    "etanercept": ("214555", "Enbrel", "50 mg/mL SureClick auto-injector", "50 mg SC once weekly"),
    "adalimumab": ("327361", "Humira", "40 mg/0.4 mL pen", "40 mg SC every other week"),
    "infliximab": ("191831", "Remicade", "100 mg vial for IV infusion", "5 mg/kg IV at weeks 0, 2 and 6, then every 6 weeks"),
    "certolizumab pegol": ("709271", "Cimzia", "200 mg/mL prefilled syringe",
                           "400 mg SC at weeks 0, 2 and 4, then 200 mg every 2 weeks"),
    "golimumab": ("819300", "Simponi", "50 mg/0.5 mL SmartJect auto-injector", "50 mg SC once monthly"),
    "secukinumab": ("1599788", "Cosentyx", "150 mg/mL Sensoready pen",
                    "150 mg SC at weeks 0, 1, 2, 3 and 4, then every 4 weeks"),
    "ixekizumab": ("1745099", "Taltz", "80 mg/mL auto-injector", "160 mg SC at week 0, then 80 mg every 4 weeks"),
    "bimekizumab": (None, "Bimzelx", "160 mg/mL auto-injector", "160 mg SC every 4 weeks"),
    "upadacitinib": ("2196092", "Rinvoq", "15 mg extended-release tablet", "15 mg PO once daily"),
    "tofacitinib": ("1357536", "Xeljanz", "5 mg tablet", "5 mg PO twice daily"),
    "ustekinumab": (None, "Stelara", "45 mg/0.5 mL prefilled syringe", "45 mg SC at weeks 0 and 4, then every 12 weeks"),
    "celecoxib": ("140587", "Celebrex", "200 mg capsule", "200 mg PO once daily"),
    "naproxen": ("7258", "Naprosyn", "500 mg tablet", "500 mg PO twice daily with food"),
    "ibuprofen": ("5640", "Motrin", "600 mg tablet", "600 mg PO three times daily with food"),
    "methotrexate": ("6851", "Trexall", "2.5 mg tablet", "15 mg PO once weekly (6 tablets) on Mondays, with folic acid"),
    "leflunomide": ("27169", "Arava", "20 mg tablet", "20 mg PO once daily"),
    "sulfasalazine": ("9524", "Azulfidine EN-tabs", "500 mg delayed-release tablet", "1000 mg PO twice daily"),
    "prednisone": ("8640", "Deltasone", "10 mg tablet", "20 mg PO once daily for 7 days, then taper by 5 mg weekly"),
    "triamcinolone acetonide": ("10759", "Kenalog-40", "40 mg/mL injectable suspension",
                                "40 mg intra-articular injection into the right sacroiliac joint, once, image-guided"),
    "isoniazid": ("6038", "isoniazid", "300 mg tablet", "300 mg PO once daily for 9 months, with pyridoxine"),
    "amoxicillin": ("723", "Amoxil", "500 mg capsule", "500 mg PO three times daily for 7 days"),
    "atorvastatin": ("83367", "Lipitor", "20 mg tablet", "20 mg PO once daily at bedtime"),
}
ALIASES = {"certolizumab": "certolizumab pegol", "triamcinolone": "triamcinolone acetonide"}


def _drug(generic: str | None) -> tuple[str | None, str, str, str] | None:
    if generic is None:
        return None
    return DRUGS.get(ALIASES.get(generic, generic))


def concept(generic: str | None, *, text: str | None = None, code: str | None = None, coded: bool = True) -> dict:
    """A medication CodeableConcept: the ingredient RxCUI (or ``code``, given without a display) and ``text``."""
    known = _drug(generic)
    cc: dict[str, Any] = {}
    if coded and code:
        cc["coding"] = [{"system": RXNORM, "code": code}]
    elif coded and known and known[0]:
        cc["coding"] = [{"system": RXNORM, "code": known[0], "display": ALIASES.get(generic, generic)}]  # type: ignore[arg-type]
    if text:
        cc["text"] = text
    return cc


def product_text(generic: str) -> str:
    """'adalimumab (Humira) 40 mg/0.4 mL pen': how an order names its drug."""
    known = _drug(generic)
    return f"{ALIASES.get(generic, generic)} ({known[1]}) {known[2]}" if known else generic


def brand_dose(generic: str) -> str:
    """'Humira 40 mg SC every other week': how a medication history names its drug."""
    known = _drug(generic)
    return f"{known[1]} {known[3]}" if known else generic


def subject(patient: str) -> dict:
    return {"reference": f"Patient/{patient}"}


# ----------------------------------------------------------------------------------------- medications


def medication_statement(rid: str, generic: str | None, *, patient: str, start: str | None = None,
                         end: str | None = None, status: str = "stopped", reason: str | None = None,
                         reason_codes: Sequence[tuple[str, str, str]] = (), note: str | None = None,
                         text: str | None = None, code: str | None = None, coded: bool = True,
                         asserted: str | None = None) -> dict:
    """A MedicationStatement: one course of therapy, with its stop reason as text and/or codes."""
    res: dict[str, Any] = {
        "resourceType": "MedicationStatement", "id": rid, "status": status,
        "medicationCodeableConcept": concept(generic, text=text, code=code, coded=coded), "subject": subject(patient),
    }
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        res["effectivePeriod"] = period
    if asserted:
        res["dateAsserted"] = asserted
    if reason or reason_codes:
        cc: dict[str, Any] = {}
        if reason_codes:
            cc["coding"] = [{"system": s, "code": c, "display": d} for s, c, d in reason_codes]
        if reason:
            cc["text"] = reason
        res["statusReason"] = [cc]
    if note:
        res["note"] = [{"text": note}]
    return res


def medication_request(rid: str, generic: str | None, *, patient: str, authored: str | None = None,
                       end: str | None = None, status: str = "completed", reason: str | None = None,
                       text: str | None = None, coded: bool = True, dose: str | None = None,
                       repeats: int | None = None) -> dict:
    """A historical MedicationRequest (an order), as EHRs without medication statements hold the history."""
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
        "medicationCodeableConcept": concept(generic, text=text, coded=coded), "subject": subject(patient),
    }
    if authored:
        res["authoredOn"] = authored
        res["requester"] = {"reference": "Practitioner/rheum-1"}
    if dose:
        res["dosageInstruction"] = [{"text": dose}]
    if end or repeats is not None:
        validity = {k: v for k, v in (("start", authored), ("end", end)) if v}
        res["dispenseRequest"] = {"validityPeriod": validity, **({"numberOfRepeatsAllowed": repeats} if repeats else {})}
    if reason:
        res["statusReason"] = {"text": reason}
    return res


def draft_order(generic: str, *, patient: str, rid: str | None = None, text: str | None = None, coded: bool = True,
                dose: str | None = None, authored: str | None = None, resource_type: str = "MedicationRequest",
                extra: dict | None = None) -> dict:
    """The draft order the clinician is signing or has selected."""
    res: dict[str, Any] = {
        "resourceType": resource_type, "id": rid or f"draft-{generic.split()[0]}", "status": "draft",
        "intent": "order", "medicationCodeableConcept": concept(generic, text=text, coded=coded),
        "subject": subject(patient),
    }
    if authored:
        res["authoredOn"] = authored
        res["requester"] = {"reference": "Practitioner/example"}
    if dose:
        res["dosageInstruction"] = [{"text": dose}]
    res.update(extra or {})
    return res


# ------------------------------------------------------------------------------------------ conditions
# key: (SNOMED code, SNOMED display, ICD-10-CM code, ICD display, text)
CONDITIONS: dict[str, tuple[str | None, str | None, str | None, str | None, str]] = {
    "as": ("9631008", "Ankylosing spondylitis", "M45.9", "Ankylosing spondylitis of unspecified sites in spine",
           "Ankylosing spondylitis"),
    "as-thoracolumbar-icd": (None, None, "M45.5", "Ankylosing spondylitis of thoracolumbar region",
                             "Ankylosing spondylitis, thoracolumbar"),
    "nr-axspa": (None, None, "M45.A6", "Non-radiographic axial spondyloarthritis of lumbar region",
                 "Non-radiographic axial spondyloarthritis"),
    "crohns": ("34000006", "Crohn's disease", "K50.90", "Crohn's disease, unspecified, without complications",
               "Crohn's disease"),
    "uc": ("64766004", "Ulcerative colitis", "K51.90", "Ulcerative colitis, unspecified, without complications",
           "Ulcerative colitis"),
    "uveitis": ("6869001", "Recurrent iridocyclitis", "H20.023", "Recurrent acute iridocyclitis, bilateral",
                "Recurrent anterior uveitis (HLA-B27 associated)"),
    "psoriasis": ("9014002", "Psoriasis", "L40.0", "Psoriasis vulgaris", "Plaque psoriasis"),
    "hf": ("84114007", "Heart failure", "I50.9", "Heart failure, unspecified", "Heart failure"),
    "chf": ("42343007", "Congestive heart failure", None, None, "Congestive heart failure, NYHA class III"),
    "ms": ("24700007", "Multiple sclerosis", "G35.A", "Relapsing-remitting multiple sclerosis",
           "Relapsing-remitting multiple sclerosis"),
    "ms-legacy": (None, None, "G35", "Multiple sclerosis", "Multiple sclerosis"),
    "active-tb": ("427099000", "Active tuberculosis", "A15.0", "Tuberculosis of lung", "Pulmonary tuberculosis"),
    "active-tb-icd": (None, None, "A15.0", "Tuberculosis of lung", "Pulmonary tuberculosis, smear positive"),
    "latent-tb": (None, None, "Z22.7", "Latent tuberculosis", "Latent tuberculosis infection (positive IGRA)"),
    "hbv": ("61977001", "Chronic type B viral hepatitis", "B18.1", "Chronic viral hepatitis B without delta-agent",
            "Chronic hepatitis B"),
    "hbv-past": (None, None, None, None, "Past hepatitis B infection (anti-HBc positive, HBsAg negative)"),
    "hcv": ("50711007", "Viral hepatitis type C", "B18.2", "Chronic viral hepatitis C", "Chronic hepatitis C"),
    "sepsis": ("91302008", "Sepsis", "A41.9", "Sepsis, unspecified organism", "Sepsis (Streptococcus pneumoniae)"),
    "pneumonia": (None, None, "J18.9", "Pneumonia, unspecified organism", "Community-acquired pneumonia"),
    "lymphoma": (None, None, "Z85.72", "Personal history of non-Hodgkin lymphomas",
                 "History of diffuse large B-cell lymphoma (treated 2019)"),
    "pregnant": ("77386006", "Pregnant", "Z33.1", "Pregnant state, incidental", "Pregnant"),
    "pregnant-24-weeks": (None, None, "Z3A.24", "24 weeks gestation of pregnancy", "Pregnancy, 24 weeks"),
    "pregnant-12-weeks": (None, None, "Z3A.12", "12 weeks gestation of pregnancy", "Pregnancy, 12 weeks"),
    "planned-pregnancy": (None, None, None, None, "Planning a pregnancy (trying to conceive)"),
    "breastfeeding": ("866041003", "Mother currently breastfeeding", "Z39.1",
                      "Encounter for care and examination of lactating mother", "Breastfeeding"),
    "ra": ("69896004", "Rheumatoid arthritis", "M06.9", "Rheumatoid arthritis, unspecified", "Rheumatoid arthritis"),
    "smoker": ("77176002", "Smoker", "F17.210", "Nicotine dependence, cigarettes, uncomplicated",
               "Current smoker, 30 pack-years"),
    "vte-history": (None, None, "Z86.718", "Personal history of other venous thrombosis and embolism",
                    "History of left leg deep vein thrombosis (2021)"),
    "peripheral-arthritis": ("3723001", "Arthritis", "M13.0", "Polyarthritis, unspecified",
                             "Peripheral arthritis of both knees and the right ankle"),
    "hyperlipidaemia": ("55822004", "Hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified", "Hyperlipidaemia"),
    "hypertension": ("38341003", "Hypertensive disorder", "I10", "Essential (primary) hypertension", "Hypertension"),
}
_SEVERITY = {"severe": ("24484000", "Severe"), "moderate": ("6736007", "Moderate"), "mild": ("255604002", "Mild")}


def condition(rid: str, key: str | None = None, *, patient: str, snomed: str | None = None, icd: str | None = None,
              text: str | None = None, clinical: str | None = "active", verification: str | None = "confirmed",
              onset: str | None = None, abatement: str | None = None, recorded: str | None = None,
              systems: str = "both", severity: str | None = None, full: bool = False) -> dict:
    """A Condition, from a key of CONDITIONS or from explicit codes and text. ``full`` adds the displays, the
    status systems and the problem-list category, as an EHR sends them."""
    sct_d = icd_d = None
    if key is not None:
        snomed, sct_d, icd, icd_d, text = CONDITIONS[key]
    coding = []
    if snomed and systems in ("both", "snomed"):
        coding.append({"system": SNOMED, "code": snomed, **({"display": sct_d} if sct_d else {})})
    if icd and systems in ("both", "icd"):
        coding.append({"system": ICD10, "code": icd, **({"display": icd_d} if icd_d else {})})
    res: dict[str, Any] = {"resourceType": "Condition", "id": rid}
    if clinical:
        res["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                             "code": clinical, **({"display": clinical.capitalize()} if full else {})}]}
    if verification:
        res["verificationStatus"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification,
            **({"display": verification.capitalize()} if full else {})}]}
    if full:
        res["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                        "code": "problem-list-item", "display": "Problem List Item"}]}]
    if severity:
        code, display = _SEVERITY[severity]
        res["severity"] = {"coding": [{"system": SNOMED, "code": code, "display": display}]}
    code_cc: dict[str, Any] = {"coding": coding} if coding else {}
    if text:
        code_cc["text"] = text
    res["code"] = code_cc
    res["subject"] = subject(patient)
    if onset:
        res["onsetDateTime"] = onset
    if abatement:
        res["abatementDateTime"] = abatement
    if recorded:
        res["recordedDate"] = recorded
    return res


def allergy(rid: str, generic: str | None, *, patient: str, reaction: str | None = None, kind: str = "allergy",
            criticality: str | None = None, severity: str | None = None, text: str | None = None,
            code: str | None = None, display: str | None = None, recorded: str | None = None) -> dict:
    """A medication AllergyIntolerance (``kind`` allergy or intolerance) with its reaction."""
    known = _drug(generic)
    cc: dict[str, Any] = {}
    if generic and known and known[0]:
        cc["coding"] = [{"system": RXNORM, "code": known[0], "display": ALIASES.get(generic, generic)}]
    elif code:
        cc["coding"] = [{"system": RXNORM, "code": code, **({"display": display} if display else {})}]
    if text:
        cc["text"] = text
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance", "id": rid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
        "type": kind, "category": ["medication"],
    }
    if criticality:
        res["criticality"] = criticality
    res["code"] = cc
    res["patient"] = subject(patient)
    if recorded:
        res["recordedDate"] = recorded
    if reaction:
        res["reaction"] = [{"manifestation": [{"text": reaction}], **({"severity": severity} if severity else {})}]
    return res


# ---------------------------------------------------------------------------------------- observations
# kind: (LOINC code, display, category)
OBSERVATION_CODES: dict[str, tuple[str, str, str]] = {
    "smoking": ("72166-2", "Tobacco smoking status", "social-history"),
    "pregnancy": ("82810-3", "Pregnancy status", "social-history"),
    "igra": ("71773-6", "Mycobacterium tuberculosis stimulated gamma interferon [Presence] in Blood", "laboratory"),
    "igra-mitogen": ("71774-4", "Mitogen stimulated gamma interferon [Units/volume] corrected for background in Blood",
                     "laboratory"),
    "hbsag": ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", "laboratory"),
    "anti-hbc": ("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", "laboratory"),
    "crp": ("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "laboratory"),
}
# value: (SNOMED CT code, display)
ANSWERS: dict[str, tuple[str, str]] = {
    "current every day smoker": ("449868002", "Current every day smoker"),
    "current some day smoker": ("428041000124106", "Current some day smoker"),
    "former smoker": ("8517006", "Former smoker"),
    "never smoker": ("266919005", "Never smoker"),
    "pregnant": ("77386006", "Pregnant"),
    "not pregnant": ("60001007", "Not pregnant"),
    "positive": ("10828004", "Positive"),
    "negative": ("260385009", "Negative"),
    "indeterminate": ("419984006", "Inconclusive"),
}


def observation(rid: str, kind: str, *, patient: str, value: str | None = None, when: str | None = None,
                status: str = "final", quantity: float | None = None, unit: str | None = None,
                value_text: str | None = None) -> dict:
    """An Observation of one of OBSERVATION_CODES' kinds: a coded answer (ANSWERS), a Quantity or a string."""
    loinc, display, category = OBSERVATION_CODES[kind]
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": rid, "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
        "subject": subject(patient),
    }
    if when:
        res["effectiveDateTime"] = when
    if value is not None:
        code, shown = ANSWERS[value]
        res["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": code, "display": shown}], "text": shown}
    elif quantity is not None:
        res["valueQuantity"] = {"value": quantity, "unit": unit or "", "system": "http://unitsofmeasure.org",
                                "code": unit or "1"}
    elif value_text is not None:
        res["valueString"] = value_text
    return res


# --------------------------------------------------------------------------------------------- requests


def bundle(resources: Iterable[dict], kind: str = "searchset") -> dict:
    resources = list(resources)
    out: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if kind == "searchset":
        out["total"] = len(resources)
        out["entry"] = [{"fullUrl": f"{FHIR_SERVER}/{r.get('resourceType', 'Unknown')}/{r.get('id', i)}",
                         "resource": r, "search": {"mode": "match"}} for i, r in enumerate(resources)]
    else:
        out["entry"] = [{"resource": r} for r in resources]
    return out


def patient(patient_id: str, *, birth: str | None = "1984-03-02", gender: str | None = "male") -> dict:
    res: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    if gender:
        res["gender"] = gender
    if birth:
        res["birthDate"] = birth
    res["name"] = [{"family": "Fixture", "given": [patient_id]}]
    return res


def cds_request(case_key: str, patient_id: str, orders: Sequence[dict], *, birth: str | None = "1984-03-02",
                gender: str | None = "male", statements: Sequence[dict] = (), requests: Sequence[dict] = (),
                conditions: Sequence[dict] = (), allergies: Sequence[dict] = (), observations: Sequence[dict] = (),
                hook: str = "order-select", with_patient: bool = True) -> dict:
    """A complete CDS Hooks request selecting the first of ``orders`` (order-select) or signing them all."""
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook == "order-select":
        context["selections"] = [f"{orders[0]['resourceType']}/{orders[0]['id']}"]
    context["draftOrders"] = bundle(orders, "collection")
    prefetch: dict[str, Any] = {"patient": patient(patient_id, birth=birth, gender=gender) if with_patient else None}
    for key, resources in (("medicationStatements", statements), ("medicationRequests", requests),
                           ("conditions", conditions), ("allergies", allergies), ("observations", observations)):
        prefetch[key] = bundle(resources)
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{case_key}")),
        "fhirServer": FHIR_SERVER,
        "context": context,
        "prefetch": prefetch,
    }


def hook_input(request: dict, today: date | str = TODAY, *, keys: Iterable[str] | None = None,
               unavailable: frozenset[str] = frozenset(), settings: Any = None) -> Any:
    """What the hook sees of a CDS Hooks request (a hooks.contract.HookInput): its prefetch bundles, limited to the
    ``keys`` a service reads (all when None), resources of the bundle's type only."""
    from hooks.contract import HookInput, HookSettings, PatientData

    prefetch = request.get("prefetch") or {}
    wanted = set(keys) if keys is not None else {"patient", *PREFETCH_BUNDLES}
    data: dict[str, Any] = {"unavailable": unavailable}
    if "patient" in wanted and isinstance(prefetch.get("patient"), dict):
        data["patient"] = prefetch["patient"]
    for key, (resource_type, field) in PREFETCH_BUNDLES.items():
        found = prefetch.get(key) if key in wanted else None
        entries = found.get("entry") if isinstance(found, dict) else None
        data[field] = tuple(e["resource"] for e in entries or [] if isinstance(e, dict)
                            and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == resource_type)
    context = request["context"]
    return HookInput(
        hook=request["hook"], hook_instance=request["hookInstance"], patient_id=context["patientId"],
        user_id=context["userId"], draft_orders=context["draftOrders"],
        selections=tuple(context.get("selections") or ()), data=PatientData(**data),
        today=date.fromisoformat(today) if isinstance(today, str) else today,
        settings=settings if settings is not None else HookSettings(),
    )
