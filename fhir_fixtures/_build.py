"""Build the fixture requests and expectations from the compact case definitions below.

Run ``.venv/bin/python fhir_fixtures/_build.py`` from the repository root. The generated JSON files are the
source of truth the tests read; this script only exists to make the cases easy to review and to regenerate.
Every date is fixed; "today" for the cases is 2026-11-24.
"""

from __future__ import annotations

import copy
import json
import shutil
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = HERE.parent.parent / "shared" / "examples" / "seed-patient.order-select.json"
SEED_COPY = HERE / "seed" / "_seed-source.json"  # kept in-repo so the build does not depend on /work/shared
FHIR_SERVER = "https://ehr.example.org/fhir"
TODAY = "2026-11-24"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

# ----------------------------------------------------------------------------------------- drugs
# generic: (RxNorm ingredient RxCUI or None, brand, product text after the generic name, dosage text)
# RxCUIs marked UNVERIFIED in docs/axspa-guidelines (golimumab, secukinumab, ixekizumab, upadacitinib,
# tofacitinib, prednisone) are used as given by the brief; bimekizumab has no RxCUI in the reference, so it
# is sent as text only.
DRUGS: dict[str, tuple[str | None, str, str, str]] = {
    "etanercept": ("214555", "Enbrel", "50 mg/mL SureClick auto-injector", "50 mg SC once weekly"),
    "adalimumab": ("327361", "Humira", "40 mg/0.4 mL pen", "40 mg SC every other week"),
    "infliximab": ("191831", "Remicade", "100 mg vial for IV infusion", "5 mg/kg IV at weeks 0, 2 and 6, then every 6 weeks"),
    "certolizumab pegol": ("709271", "Cimzia", "200 mg/mL prefilled syringe", "400 mg SC at weeks 0, 2 and 4, then 200 mg every 2 weeks"),
    "golimumab": ("819300", "Simponi", "50 mg/0.5 mL SmartJect auto-injector", "50 mg SC once monthly"),
    "secukinumab": ("1599788", "Cosentyx", "150 mg/mL Sensoready pen", "150 mg SC at weeks 0, 1, 2, 3 and 4, then every 4 weeks"),
    "ixekizumab": ("1745099", "Taltz", "80 mg/mL auto-injector", "160 mg SC at week 0, then 80 mg every 4 weeks"),
    "bimekizumab": (None, "Bimzelx", "160 mg/mL auto-injector", "160 mg SC every 4 weeks"),
    "upadacitinib": ("2196092", "Rinvoq", "15 mg extended-release tablet", "15 mg PO once daily"),
    "tofacitinib": ("1357536", "Xeljanz", "5 mg tablet", "5 mg PO twice daily"),
    "celecoxib": ("140587", "Celebrex", "200 mg capsule", "200 mg PO once daily"),
    "naproxen": ("7258", "Naprosyn", "500 mg tablet", "500 mg PO twice daily with food"),
    "methotrexate": ("6851", "Trexall", "2.5 mg tablet", "15 mg PO once weekly (6 tablets) on Mondays, with folic acid"),
    "sulfasalazine": ("9524", "Azulfidine EN-tabs", "500 mg delayed-release tablet", "1000 mg PO twice daily"),
    "prednisone": ("8640", "Deltasone", "10 mg tablet", "20 mg PO once daily for 7 days, then taper by 5 mg weekly"),
    "triamcinolone acetonide": ("10759", "Kenalog-40", "40 mg/mL injectable suspension",
                                "40 mg intra-articular injection into the right sacroiliac joint, once, image-guided"),
    "amoxicillin": ("723", "Amoxil", "500 mg capsule", "500 mg PO three times daily for 7 days"),
    "atorvastatin": ("83367", "Lipitor", "20 mg tablet", "20 mg PO once daily at bedtime"),
}

TNFI = ["etanercept", "adalimumab", "infliximab", "certolizumab", "golimumab"]
TNF_MAB = ["adalimumab", "infliximab", "certolizumab", "golimumab"]
IL17 = ["secukinumab", "ixekizumab", "bimekizumab"]
JAKI = ["tofacitinib", "upadacitinib"]
BIOLOGICS = TNFI + IL17
NR_AXSPA_OFF_LABEL = ["adalimumab", "etanercept", "infliximab", "golimumab", "tofacitinib"]


def concept(generic: str, *, coded: bool = True, text: str | None = None, code: str | None = None) -> dict:
    rxcui, brand, product, _ = DRUGS[generic]
    cc: dict = {}
    if coded and code:  # an explicit (e.g. unknown) code: no display, the code is all the EHR sent
        cc["coding"] = [{"system": RXNORM, "code": code}]
    elif coded and rxcui:
        cc["coding"] = [{"system": RXNORM, "code": rxcui, "display": generic}]
    cc["text"] = text or f"{generic} ({brand}) {product}"
    return cc


def draft(generic: str, patient: str, *, coded: bool = True, text: str | None = None, draft_id: str | None = None,
          dose: str | None = None, extra: dict | None = None) -> dict:
    res = {
        "resourceType": "MedicationRequest",
        "id": draft_id or f"draft-{generic.split()[0]}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept(generic, coded=coded, text=text),
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": TODAY,
        "requester": {"reference": "Practitioner/example"},
        "dosageInstruction": [{"text": dose or DRUGS[generic][3]}],
    }
    res.update(extra or {})
    return res


def ms(rid: str, generic: str, start: str | None, end: str | None = None, *, reason: str | None = None,
       status: str | None = None, coded: bool = True, text: str | None = None, code: str | None = None,
       note: str | None = None) -> dict:
    """A MedicationStatement: a course of therapy. ``end`` None and no explicit status = still active."""
    _, brand, _, dose = DRUGS[generic]
    res: dict = {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": status or ("stopped" if end else "active"),
        "medicationCodeableConcept": concept(generic, coded=coded, text=text or f"{brand} {dose}", code=code),
    }
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        res["effectivePeriod"] = period
    res["dateAsserted"] = end or start or "2026-06-01"
    if reason:
        res["statusReason"] = [{"text": reason}]
    if note:
        res["note"] = [{"text": note}]
    return res


def mr(rid: str, generic: str, start: str, end: str | None = None, *, reason: str | None = None,
       status: str | None = None, coded: bool = True, text: str | None = None) -> dict:
    """A historical MedicationRequest (an order), as EHRs without medication statements hold the history."""
    _, brand, product, dose = DRUGS[generic]
    res: dict = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status or ("stopped" if end else "active"),
        "intent": "order",
        "medicationCodeableConcept": concept(generic, coded=coded, text=text),
        "authoredOn": start,
        "requester": {"reference": "Practitioner/rheum-1"},
        "dosageInstruction": [{"text": dose}],
        "dispenseRequest": {"validityPeriod": {k: v for k, v in (("start", start), ("end", end)) if v},
                            "numberOfRepeatsAllowed": 11},
    }
    if reason:
        res["statusReason"] = {"text": reason}
    return res


NSAID_HISTORY = (
    ("naproxen", "2019-02-01", "2019-05-15", "Insufficient relief at maximum dose"),
    ("celecoxib", "2019-05-20", None, None),
)


def nsaids(prefix: str = "ms") -> list[dict]:
    return [ms(f"{prefix}-{g[:3]}", g, s, e, reason=r, note=None if e else "Ongoing; partial relief only")
            for g, s, e, r in NSAID_HISTORY]


# ------------------------------------------------------------------------------------- conditions
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
    "ra": ("69896004", "Rheumatoid arthritis", "M06.9", "Rheumatoid arthritis, unspecified", "Rheumatoid arthritis"),
    "smoker": ("77176002", "Smoker", "F17.210", "Nicotine dependence, cigarettes, uncomplicated",
               "Current smoker, 30 pack-years"),
    "vte-history": (None, None, "Z86.718", "Personal history of other venous thrombosis and embolism",
                    "History of left leg deep vein thrombosis (2021)"),
    "peripheral-arthritis": ("3723001", "Arthritis", "M13.0", "Polyarthritis, unspecified",
                             "Peripheral arthritis of both knees and the right ankle"),
    "hyperlipidaemia": ("55822004", "Hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified", "Hyperlipidaemia"),
}


def cond(rid: str, key: str, *, clinical: str = "active", verification: str = "confirmed", onset: str = "2016-05-01",
         systems: str = "both", severity: str | None = None, abatement: str | None = None) -> dict:
    sct, sct_d, icd, icd_d, text = CONDITIONS[key]
    coding = []
    if sct and systems in ("both", "snomed"):
        coding.append({"system": SNOMED, "code": sct, "display": sct_d})
    if icd and systems in ("both", "icd"):
        coding.append({"system": ICD10, "code": icd, "display": icd_d})
    res: dict = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": clinical, "display": clinical.capitalize()}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": verification, "display": verification.capitalize()}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "problem-list-item", "display": "Problem List Item"}]}],
    }
    if severity:
        sev = {"severe": ("24484000", "Severe"), "moderate": ("6736007", "Moderate"), "mild": ("255604002", "Mild")}
        res["severity"] = {"coding": [{"system": SNOMED, "code": sev[severity][0], "display": sev[severity][1]}]}
    res["code"] = {"coding": coding, "text": text} if coding else {"text": text}
    res["onsetDateTime"] = onset
    if abatement:
        res["abatementDateTime"] = abatement
    return res


def allergy(rid: str, generic: str | None, manifestation: str, *, type_: str = "allergy", criticality: str = "high",
            severity: str = "severe", text: str | None = None, code: str | None = None, display: str | None = None,
            coded: bool = True) -> dict:
    cc: dict = {}
    if generic and coded:
        cc["coding"] = [{"system": RXNORM, "code": DRUGS[generic][0], "display": generic}]
    elif code:
        cc["coding"] = [{"system": RXNORM, "code": code, "display": display}]
    cc["text"] = text or (f"{DRUGS[generic][1]} ({generic})" if generic else display)
    return {
        "resourceType": "AllergyIntolerance",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active", "display": "Active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                           "code": "confirmed", "display": "Confirmed"}]},
        "type": type_,
        "category": ["medication"],
        "criticality": criticality,
        "code": cc,
        "recordedDate": "2024-03-01",
        "reaction": [{"manifestation": [{"text": manifestation}], "severity": severity}],
    }


def bundle(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"{FHIR_SERVER}/{r.get('resourceType', 'Unknown')}/{r.get('id', i)}",
                   "resource": r, "search": {"mode": "match"}} for i, r in enumerate(resources)],
    }


def request(case_key: str, patient_id: str, order: dict, *, birth: str = "1984-03-02", gender: str = "male",
            statements: list[dict] = (), requests: list[dict] = (), conditions: list[dict] = (),
            allergies: list[dict] = (), hook: str = "order-select") -> dict:
    subj = {"reference": f"Patient/{patient_id}"}
    for r in [*statements, *requests, *conditions]:
        r.setdefault("subject", subj)
    for a in allergies:
        a.setdefault("patient", subj)
    order["subject"] = subj
    context: dict = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{order['id']}"]
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{case_key}")),
        "fhirServer": FHIR_SERVER,
        "context": context,
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": patient_id, "gender": gender, "birthDate": birth,
                        "name": [{"family": "Fixture", "given": [patient_id]}]},
            "medicationStatements": bundle(list(statements)),
            "medicationRequests": bundle(list(requests)),
            "conditions": bundle(list(conditions)),
            "allergies": bundle(list(allergies)),
        },
    }


# ------------------------------------------------------------------------------------------ cases
CASES: list[tuple[str, str, dict, dict]] = []  # (folder, case name, request, expected)


def case(folder: str, name: str, req: dict, **expected) -> None:
    exp = {"description": expected.pop("description"), "rule": folder, "source": expected.pop("source")}
    exp.update(expected)
    CASES.append((folder, name, req, exp))


def silent(**kw) -> dict:
    return {"cards": {"min": 0, "max": 0}, **kw}


AT_MOST_INFO = {"indicator": ["info"]}  # silence allowed when cards.min == 0; any card must be info


def pid(folder: str, name: str) -> str:
    words = name.split("-")[:6]
    return ("pt-" + "-".join(words))[:64]


# ---- seed -------------------------------------------------------------------------------------------
def seed_request() -> dict:
    return json.loads(SEED_COPY.read_text())


def seed_variant(case_key: str, order_generic: str | None = None) -> dict:
    req = seed_request()
    req["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{case_key}"))
    if order_generic:
        order = draft(order_generic, "seed-patient")
        req["context"]["selections"] = [f"MedicationRequest/{order['id']}"]
        req["context"]["draftOrders"]["entry"] = [{"resource": order}]
    return req


SEED_NEVER = ["upadacitinib", "tofacitinib", "etanercept"]


def build_seed() -> None:
    f = "seed"
    src = "ASAS-EULAR 2022 #12; ACR 2019 §1.4 gap (AE is not non-response); FDA JAKi labels"
    case(f, "in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard", seed_request(),
         description="The shared seed patient (etanercept stopped for an injection-site reaction, upadacitinib "
                     "ineffective) is re-ordered upadacitinib: warn, and suggest a bDMARD other than etanercept.",
         source=src, cards={"min": 1, "max": 3}, indicator="warning",
         recommended_any_of=TNF_MAB + IL17, suggests_any_of=TNF_MAB + IL17, never_suggests=SEED_NEVER,
         deletes_selection=True, text_mentions=["JAK"],
         text_never_mentions=["primary non-response to etanercept", "primary nonresponse to etanercept"])

    key = "seed/in-seed-without-allergyintolerance-still-never-suggests-etanercept"
    req = seed_variant(key)
    req["prefetch"]["allergies"] = bundle([])
    case(f, key.split("/")[1], req,
         description="Without the AllergyIntolerance record, the stopped-for-injection-site-reaction statement alone "
                     "still keeps etanercept out of the suggestions.",
         source=src, cards={"min": 1, "max": 3}, indicator="warning", recommended_any_of=TNF_MAB + IL17,
         never_suggests=SEED_NEVER, deletes_selection=True)

    key = "seed/in-seed-free-text-brand-names-only-gives-same-advice"
    req = seed_variant(key)
    for e in req["prefetch"]["medicationStatements"]["entry"]:
        e["resource"]["medicationCodeableConcept"].pop("coding")
    for e in req["prefetch"]["allergies"]["entry"]:
        e["resource"]["code"] = {"text": "Enbrel"}
    req["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"].pop("coding")
    case(f, key.split("/")[1], req,
         description="The seed record with no RxNorm codes at all (only 'Enbrel', 'Rinvoq', 'Celebrex' in text) is "
                     "read by brand name and gets the same warning and the same suggestions.",
         source=src, cards={"min": 1, "max": 3}, indicator="warning", recommended_any_of=TNF_MAB + IL17,
         never_suggests=SEED_NEVER, deletes_selection=True)

    key = "seed/out-seed-orders-secukinumab-concordant-no-warning"
    case(f, key.split("/")[1], seed_variant(key, "secukinumab"),
         description="For the seed patient, secukinumab (an IL-17i after a failed JAKi and an etanercept "
                     "intolerance) is concordant: at most an informational card, never a warning.",
         source="ASAS-EULAR 2022 #12", cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_suggests=SEED_NEVER)

    key = "seed/in-seed-orders-etanercept-again-warns-intolerance"
    case(f, key.split("/")[1], seed_variant(key, "etanercept"),
         description="Re-ordering etanercept for the seed patient, whose etanercept was stopped for an "
                     "injection-site reaction and who has a recorded intolerance, warns and offers other options.",
         source="Patient record (AllergyIntolerance); ACR 2019 §1.4 (AE switch, clinician judgement)",
         cards={"min": 1, "max": 3}, indicator="warning", never_suggests=SEED_NEVER,
         suggests_any_of=TNF_MAB + IL17, deletes_selection=True, text_mentions=["etanercept"])


# ---- ACR #12 primary non-response --------------------------------------------------------------------
def as_patient(folder: str, name: str, order_generic: str, *, history: list[dict] = (), extra_conditions=(),
               allergies=(), birth="1984-03-02", gender="male", requests=(), hook="order-select",
               systems="both", order_kw: dict | None = None, as_key: str = "as") -> dict:
    p = pid(folder, name)
    return request(f"{folder}/{name}", p, draft(order_generic, p, **(order_kw or {})),
                   statements=[*nsaids(), *history], requests=list(requests),
                   conditions=[cond("c-axspa", as_key, systems=systems), *extra_conditions],
                   allergies=list(allergies), birth=birth, gender=gender, hook=hook)


ADA_PNR = lambda: ms("ms-ada", "adalimumab", "2025-01-06", "2025-07-07",  # noqa: E731
                     reason="Not effective: no meaningful improvement in BASDAI after 6 months")
ADA_LOST = lambda: ms("ms-ada", "adalimumab", "2021-03-01", "2025-09-15",  # noqa: E731
                      reason="Loss of response: good response for 4 years, disease activity returned despite adherence")
ETN_LOST = lambda: ms("ms-etn", "etanercept", "2020-02-01", "2025-10-01",  # noqa: E731
                      reason="Secondary loss of efficacy after 5 years of good control")


def build_acr12() -> None:
    f = "acr-12-tnfi-primary-nonresponse"
    src = "ACR 2019 #12 (conditional, low)"
    n = "in-adalimumab-no-response-6-months-orders-certolizumab-suggests-il17"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_PNR()]),
         description="After 6 months of adalimumab without meaningful improvement (primary non-response), ordering "
                     "a second TNFi prompts a card recommending secukinumab/ixekizumab/bimekizumab instead.",
         source=src, cards={"min": 1, "max": 2}, recommended_any_of=IL17, never_suggests=TNFI,
         text_mentions=["IL-17"])  # JAKi may be offered as an alternative (ASAS-EULAR 2022 #12)
    n = "in-adalimumab-no-response-6-months-reordered-warns-suggests-il17"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_PNR()]),
         description="Re-ordering the same TNFi that produced no response over 6 months warns and recommends an "
                     "IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=IL17,
         never_suggests=TNFI, deletes_selection=True)
    n = "out-adalimumab-stopped-for-injection-site-reaction-is-not-primary-nonresponse"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[
        ms("ms-ada", "adalimumab", "2025-03-03", "2025-05-05",
           reason="Injection site reaction: painful erythema and swelling after each dose")]),
         description="Adalimumab stopped after 2 months for an injection-site reaction is an adverse event, not "
                     "primary non-response: ordering another TNF mAb is not contradicted by ACR #12.",
         source="ACR 2019 Table 1 (non-response excludes toxicity); §1.4",
         cards={"min": 0, "max": 2}, **AT_MOST_INFO, never_suggests=["adalimumab"],
         text_never_mentions=["primary non-response to adalimumab", "primary nonresponse to adalimumab"])
    n = "out-adalimumab-primary-nonresponse-orders-secukinumab-concordant"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()]),
         description="Ordering secukinumab after adalimumab primary non-response follows ACR #12: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=TNFI)


def build_acr13() -> None:
    f = "acr-13-14-tnfi-secondary-nonresponse"
    n = "in-adalimumab-lost-response-orders-amjevita-biosimilar-warns"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()], order_kw={
        "text": "adalimumab-atto (Amjevita) 40 mg/0.8 mL SureClick auto-injector", "draft_id": "draft-amjevita"}),
         description="After loss of response to adalimumab, ordering its biosimilar adalimumab-atto (Amjevita) "
                     "warns (same molecule) and recommends a different TNFi.",
         source="ACR 2019 #14 (strong) and #13 (conditional)", cards={"min": 1, "max": 2}, indicator="warning",
         recommended_any_of=["etanercept", "infliximab", "certolizumab", "golimumab"],
         never_suggests=["adalimumab"], deletes_selection=True, text_mentions=["biosimilar"])
    n = "in-adalimumab-lost-response-reordered-warns-suggests-different-tnfi"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()]),
         description="Re-ordering adalimumab after it lost its effect warns and recommends a different TNFi.",
         source="ACR 2019 #13 (conditional), #14 (strong)", cards={"min": 1, "max": 2}, indicator="warning",
         recommended_any_of=["etanercept", "infliximab", "certolizumab", "golimumab"],
         never_suggests=["adalimumab"], deletes_selection=True)
    n = "in-etanercept-lost-response-orders-secukinumab-suggests-different-tnfi"
    case(f, n, as_patient(f, n, "secukinumab", history=[ETN_LOST()]),
         description="After secondary non-response to etanercept, an IL-17i order prompts a card suggesting a "
                     "different TNFi first (ACR #13), never etanercept again.",
         source="ACR 2019 #13 (conditional, very low)", cards={"min": 1, "max": 2},
         suggests_any_of=TNF_MAB, never_suggests=["etanercept"])
    n = "out-etanercept-lost-response-orders-certolizumab-concordant"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ETN_LOST()]),
         description="Certolizumab after loss of response to etanercept is a different TNFi (ACR #13): no warning.",
         source="ACR 2019 #13", cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=["etanercept"])


def build_ae() -> None:
    f = "tnfi-stopped-for-adverse-event"
    src = "ACR 2019 §1.4 (no ACR recommendation; NICE TA143 allows another TNFi)"
    etn_isr = lambda: ms("ms-etn", "etanercept", "2025-02-03", "2025-03-17",  # noqa: E731
                         reason="Injection site reaction (erythema, induration, itching) after every dose")
    n = "in-etanercept-injection-site-reaction-reordered-offers-tnf-mab-and-il17"
    case(f, n, as_patient(f, n, "etanercept", history=[etn_isr()], allergies=[
        allergy("ai-etn", "etanercept", "Injection site reaction with erythema and swelling", type_="intolerance",
                criticality="low", severity="mild")]),
         description="Etanercept stopped for an injection-site reaction is re-ordered: warn, and offer both a TNF "
                     "monoclonal antibody and an IL-17i, never etanercept.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", never_suggests=["etanercept"],
         suggests_from_each=[TNF_MAB, IL17], deletes_selection=True, text_mentions=[["adverse", "reaction"]],
         text_never_mentions=["primary non-response to etanercept", "primary nonresponse to etanercept"])
    n = "in-adalimumab-injection-site-reaction-orders-biosimilar-warns-same-molecule"
    case(f, n, as_patient(f, n, "adalimumab", history=[
        ms("ms-ada", "adalimumab", "2025-04-07", "2025-05-19", reason="Injection site reaction, severe local pain")],
        order_kw={"text": "adalimumab-adaz (Hyrimoz) 40 mg/0.4 mL pen", "draft_id": "draft-hyrimoz"}),
         description="A biosimilar of the adalimumab that caused an injection-site reaction is the same molecule: "
                     "warn and never suggest adalimumab.",
         source=src + "; ACR 2019 #14 (biosimilar = same molecule)", cards={"min": 1, "max": 2},
         indicator="warning", never_suggests=["adalimumab"], suggests_any_of=["etanercept", "infliximab",
                                                                             "certolizumab", "golimumab"] + IL17)
    n = "out-etanercept-injection-site-reaction-orders-adalimumab-concordant"
    case(f, n, as_patient(f, n, "adalimumab", history=[etn_isr()]),
         description="Adalimumab after etanercept stopped for a local injection-site reaction is a reasonable "
                     "switch: no warning, and the stop is not called primary non-response.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=["etanercept"],
         text_never_mentions=["primary non-response to etanercept", "primary nonresponse to etanercept"])


def build_jak() -> None:
    f = "jak-inhibitor-failure"
    src = "ASAS-EULAR 2022 #12; FDA JAKi labels"
    hist = lambda: [ADA_LOST(), ms("ms-upa", "upadacitinib", "2025-10-20", "2026-04-20",  # noqa: E731
                                   reason="Not effective: no improvement after 6 months")]
    n = "in-tofacitinib-ordered-after-upadacitinib-failure-warns-suggests-bdmard"
    case(f, n, as_patient(f, n, "tofacitinib", history=hist()),
         description="Tofacitinib ordered after upadacitinib failed warns (another JAK inhibitor) and recommends a "
                     "bDMARD other than the adalimumab that already lost response.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning",
         recommended_any_of=["etanercept", "infliximab", "certolizumab", "golimumab"] + IL17,
         never_suggests=JAKI + ["adalimumab"], deletes_selection=True, text_mentions=["JAK"])
    n = "out-upadacitinib-failure-orders-ixekizumab-concordant"
    case(f, n, as_patient(f, n, "ixekizumab", history=hist()),
         description="Ixekizumab after failure of adalimumab and upadacitinib is a bDMARD switch: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=JAKI + ["adalimumab"])


def build_ibd() -> None:
    f = "emm-ibd"
    src = "ACR 2019 #41 (conditional); ASAS-EULAR 2022 #10; FDA IL-17i labels (IBD)"
    ibd_words = ["IBD", "inflammatory bowel", "Crohn", "colitis"]
    n = "in-secukinumab-ordered-with-crohns-snomed-warns-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[cond("c-crohn", "crohns", systems="snomed",
                                                                      onset="2018-09-01")]),
         description="Secukinumab ordered for a patient with active Crohn's disease (SNOMED-coded) warns and "
                     "recommends a TNF monoclonal antibody.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=TNF_MAB,
         never_suggests=IL17 + ["etanercept"], deletes_selection=True, text_mentions=[ibd_words])
    n = "in-ixekizumab-ordered-with-ulcerative-colitis-icd10-warns"
    case(f, n, as_patient(f, n, "ixekizumab", extra_conditions=[cond("c-uc", "uc", systems="icd", onset="2020-01-15")]),
         description="Ixekizumab ordered with ulcerative colitis coded only in ICD-10-CM (K51.90) warns and "
                     "recommends a TNF monoclonal antibody, not an IL-17i or etanercept.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=TNF_MAB,
         never_suggests=IL17 + ["etanercept"], text_mentions=[ibd_words])
    n = "in-order-sign-bimekizumab-with-crohns-icd10-warns"
    case(f, n, as_patient(f, n, "bimekizumab", hook="order-sign",
                          extra_conditions=[cond("c-crohn", "crohns", systems="icd", onset="2019-04-01")]),
         description="At order-sign (no selections), a bimekizumab order for a patient with Crohn's disease "
                     "(K50.90) still warns and points to a TNF monoclonal antibody.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", suggests_any_of=TNF_MAB,
         never_suggests=IL17 + ["etanercept"], text_mentions=[ibd_words])
    n = "out-resolved-crohns-does-not-block-secukinumab"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], extra_conditions=[
        cond("c-crohn", "crohns", clinical="resolved", onset="2009-02-01", abatement="2012-06-30")]),
         description="A single Crohn's episode recorded as resolved in 2012 does not block an IL-17i after "
                     "adalimumab primary non-response: no warning (an informational caution is acceptable).",
         source="ASAS-EULAR 2022 #10 ('active IBD'); judgement documented in README",
         cards={"min": 0, "max": 2}, **AT_MOST_INFO, never_suggests=["adalimumab"])
    n = "out-no-ibd-secukinumab-after-primary-nonresponse-no-warning"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()]),
         description="Without IBD on record, secukinumab after adalimumab primary non-response raises no IBD "
                     "warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_uveitis() -> None:
    f = "emm-recurrent-uveitis"
    src = "ACR 2019 #39 (conditional); ASAS-EULAR 2022 #10"
    uv = lambda: cond("c-uveitis", "uveitis", onset="2019-08-10")  # noqa: E731
    words = [["uveitis", "iritis", "iridocyclitis"]]
    n = "in-etanercept-ordered-with-recurrent-uveitis-warns-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[uv()]),
         description="Etanercept ordered for a patient with recurrent anterior uveitis warns and recommends a TNF "
                     "monoclonal antibody (adalimumab, infliximab, certolizumab or golimumab).",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=TNF_MAB,
         never_suggests=["etanercept"] + IL17, deletes_selection=True, text_mentions=words)
    n = "in-secukinumab-ordered-with-recurrent-uveitis-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[uv()]),
         description="Secukinumab as first biologic with recurrent uveitis prompts a card suggesting a TNF "
                     "monoclonal antibody instead.",
         source=src, cards={"min": 1, "max": 2}, suggests_any_of=TNF_MAB, never_suggests=["etanercept"] + IL17,
         text_mentions=words)
    n = "out-adalimumab-ordered-with-recurrent-uveitis-concordant"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[uv()]),
         description="Adalimumab (a TNF mAb) for a patient with recurrent uveitis follows ACR #39: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=["etanercept"] + IL17)


def build_psoriasis() -> None:
    f = "emm-psoriasis"
    src = "ASAS-EULAR 2022 #10"
    pso = lambda: cond("c-pso", "psoriasis", onset="2012-03-01", severity="severe")  # noqa: E731
    n = "in-etanercept-ordered-with-significant-psoriasis-suggests-il17"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[pso()]),
         description="Etanercept ordered as first biologic for a patient with severe plaque psoriasis prompts a "
                     "card suggesting an IL-17 inhibitor, which may be preferred.",
         source=src, cards={"min": 1, "max": 2}, indicator=["info", "warning"], suggests_any_of=IL17,
         text_mentions=[["psoria"]])
    n = "out-secukinumab-ordered-with-psoriasis-concordant"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[pso()]),
         description="Secukinumab for a patient with severe psoriasis follows ASAS-EULAR #10: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_hf() -> None:
    f = "contra-heart-failure"
    src = "ACR 2019 narrative to #11; FDA TNFi labels (heart failure)"
    n = "in-adalimumab-ordered-with-heart-failure-warns-suggests-il17"
    case(f, n, as_patient(f, n, "adalimumab", birth="1961-07-19",
                          extra_conditions=[cond("c-hf", "hf", onset="2023-02-11")]),
         description="Adalimumab ordered for a patient with heart failure warns (TNFi may worsen heart failure) "
                     "and recommends an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=IL17,
         never_suggests=TNFI, deletes_selection=True, text_mentions=["heart failure"])
    n = "in-golimumab-ordered-with-congestive-heart-failure-snomed-warns"
    case(f, n, as_patient(f, n, "golimumab", birth="1958-01-30",
                          extra_conditions=[cond("c-chf", "chf", onset="2024-06-01")]),
         description="Golimumab ordered with congestive heart failure (SNOMED 42343007 only) warns and offers an "
                     "IL-17 inhibitor, never a TNFi.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", suggests_any_of=IL17, never_suggests=TNFI,
         text_mentions=["heart failure"])
    n = "out-secukinumab-ordered-with-heart-failure-concordant"
    case(f, n, as_patient(f, n, "secukinumab", birth="1961-07-19",
                          extra_conditions=[cond("c-hf", "hf", onset="2023-02-11")]),
         description="Secukinumab for a patient with heart failure is the preferred non-TNF option: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=TNFI)


def build_ms() -> None:
    f = "contra-demyelinating"
    src = "ACR 2019 narrative to #11; FDA TNFi labels (demyelinating disease)"
    n = "in-etanercept-ordered-with-multiple-sclerosis-warns-suggests-il17"
    case(f, n, as_patient(f, n, "etanercept", gender="female", birth="1988-11-02",
                          extra_conditions=[cond("c-ms", "ms", onset="2017-10-01")]),
         description="Etanercept ordered for a patient with relapsing-remitting multiple sclerosis warns "
                     "(demyelination) and recommends an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=IL17,
         never_suggests=TNFI, deletes_selection=True, text_mentions=[["demyelinat", "multiple sclerosis"]])
    n = "in-certolizumab-ordered-with-multiple-sclerosis-legacy-icd-g35-warns"
    case(f, n, as_patient(f, n, "certolizumab pegol", gender="female", birth="1990-04-22",
                          extra_conditions=[cond("c-ms", "ms-legacy", onset="2015-03-01")]),
         description="Multiple sclerosis coded with the legacy ICD-10-CM G35 still blocks certolizumab: warning, "
                     "IL-17 inhibitor offered, no TNFi.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", suggests_any_of=IL17, never_suggests=TNFI)
    n = "out-ixekizumab-ordered-with-multiple-sclerosis-concordant"
    case(f, n, as_patient(f, n, "ixekizumab", gender="female", birth="1988-11-02",
                          extra_conditions=[cond("c-ms", "ms", onset="2017-10-01")]),
         description="Ixekizumab for a patient with multiple sclerosis avoids TNFi as advised: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=TNFI)


def build_tb() -> None:
    f = "infection-active-tb"
    src = "FDA labels (all biologics and JAKi: TB); ACR 2019 narrative (infection)"
    tb_words = [["tuberculosis", "TB"]]
    n = "in-active-tb-adalimumab-ordered-critical"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-tb", "active-tb", onset="2026-10-02")]),
         description="Adalimumab ordered for a patient with active pulmonary tuberculosis gets a critical card; "
                     "no biologic or JAK inhibitor is suggested while TB is active.",
         source=src, cards={"min": 1, "max": 3}, indicator="critical", never_suggests=BIOLOGICS + JAKI,
         text_mentions=tb_words)
    n = "in-active-tb-icd-only-secukinumab-ordered-critical"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[cond("c-tb", "active-tb-icd", onset="2026-09-14")]),
         description="Active TB coded only as ICD-10-CM A15.0 blocks an IL-17 inhibitor too: critical card.",
         source=src, cards={"min": 1, "max": 3}, indicator="critical", never_suggests=BIOLOGICS + JAKI,
         text_mentions=tb_words)
    n = "out-tb-treated-and-resolved-is-not-critical"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[
        cond("c-tb", "active-tb", clinical="resolved", onset="2010-01-10", abatement="2010-08-30")]),
         description="Pulmonary TB treated and resolved in 2010 does not raise a critical card for adalimumab "
                     "(a screening reminder is acceptable).",
         source=src, cards={"min": 0, "max": 2}, indicator=["info", "warning"])


def build_screening() -> None:
    f = "infection-screening"
    src = "FDA labels (TB screening before biologics/JAKi; TNFi HBV reactivation)"
    n = "in-latent-tb-adalimumab-ordered-screening-reminder"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-ltbi", "latent-tb", onset="2026-08-20")]),
         description="Latent TB on record when adalimumab is ordered: a card reminds about TB screening and "
                     "treatment before the biologic, without a critical stop.",
         source=src, cards={"min": 1, "max": 2}, indicator=["info", "warning"], text_mentions=[["tuberculosis", "TB"]])
    n = "in-chronic-hepatitis-b-etanercept-ordered-mentions-hbv"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[cond("c-hbv", "hbv", onset="2014-05-05")]),
         description="Chronic hepatitis B on record when etanercept is ordered: a card warns of HBV reactivation "
                     "and asks for screening/monitoring.",
         source=src, cards={"min": 1, "max": 2}, indicator=["info", "warning"],
         text_mentions=[["hepatitis B", "HBV"]])
    n = "out-latent-tb-naproxen-ordered-no-screening-card"
    case(f, n, as_patient(f, n, "naproxen", extra_conditions=[cond("c-ltbi", "latent-tb", onset="2026-08-20")]),
         description="Latent TB does not matter for an NSAID order (naproxen): no TB screening card.",
         source="relevance", cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         text_never_mentions=["latent tuberculosis", "latent TB"])


def build_boxed() -> None:
    f = "jak-boxed-warning"
    src = "FDA JAKi boxed warning (serious infections, mortality, malignancy, MACE, thrombosis)"
    hist = lambda: [ADA_LOST(), ms("ms-sec", "secukinumab", "2025-10-06", "2026-04-06",  # noqa: E731
                                   reason="Not effective after 6 months")]
    n = "in-68-year-old-smoker-upadacitinib-warns-boxed-warning"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1958-05-10", history=hist(),
                          extra_conditions=[cond("c-smoke", "smoker", onset="1978-01-01")]),
         description="Upadacitinib for a 68-year-old current smoker warns about the JAK inhibitor boxed warning "
                     "(MACE, thrombosis, malignancy, mortality).",
         source=src, cards={"min": 1, "max": 3}, indicator="warning", text_mentions=["boxed warning"])
    n = "in-61-year-old-prior-vte-tofacitinib-warns-boxed-warning"
    case(f, n, as_patient(f, n, "tofacitinib", birth="1965-02-14", gender="female", history=hist(),
                          extra_conditions=[cond("c-vte", "vte-history", onset="2021-04-03")]),
         description="Tofacitinib for a 61-year-old with a prior deep vein thrombosis warns about the JAK "
                     "inhibitor boxed warning (thrombosis).",
         source=src, cards={"min": 1, "max": 3}, indicator="warning",
         text_mentions=["boxed warning", ["thrombo", "VTE", "DVT", "clot"]])
    n = "out-38-year-old-without-risk-factors-upadacitinib-no-boxed-warning-alert"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1988-06-30", history=hist()),
         description="Upadacitinib after TNFi and IL-17i failure for a 38-year-old non-smoker without CV or VTE "
                     "history raises no boxed-warning risk-factor warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_nr() -> None:
    f = "nr-axspa-on-label"
    src = "FDA labels (nr-axSpA: certolizumab, secukinumab, ixekizumab, bimekizumab, upadacitinib)"
    n = "in-nr-axspa-adalimumab-ordered-suggests-on-label-only"
    case(f, n, as_patient(f, n, "adalimumab", as_key="nr-axspa", gender="female", birth="1993-09-09"),
         description="Adalimumab (not FDA-approved for nr-axSpA, M45.A6) ordered for nr-axSpA: a card suggests only "
                     "on-label options such as certolizumab or an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 2}, suggests_any_of=["certolizumab"] + IL17,
         never_suggests=NR_AXSPA_OFF_LABEL, text_mentions=[["non-radiographic", "nr-axSpA"]])
    n = "in-nr-axspa-certolizumab-primary-nonresponse-golimumab-ordered-suggests-il17"
    case(f, n, as_patient(f, n, "golimumab", as_key="nr-axspa", gender="female", birth="1993-09-09", history=[
        ms("ms-czp", "certolizumab pegol", "2025-05-05", "2025-11-03",
           reason="Not effective: no clinical improvement after 6 months")]),
         description="nr-axSpA with certolizumab primary non-response and golimumab ordered: suggestions are "
                     "on-label IL-17 inhibitors, never adalimumab/etanercept/infliximab/golimumab.",
         source=src + "; ACR 2019 #63", cards={"min": 1, "max": 2}, recommended_any_of=IL17,
         never_suggests=NR_AXSPA_OFF_LABEL + ["certolizumab"])
    n = "out-nr-axspa-certolizumab-ordered-on-label-no-warning"
    case(f, n, as_patient(f, n, "certolizumab pegol", as_key="nr-axspa", gender="female", birth="1993-09-09"),
         description="Certolizumab, FDA-approved for nr-axSpA, ordered as first biologic: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_suggests=NR_AXSPA_OFF_LABEL)


def build_allergy() -> None:
    f = "allergy"
    src = "Patient record (AllergyIntolerance); ACR 2019 #13"
    czp_ana = lambda: allergy("ai-czp", "certolizumab pegol", "Anaphylaxis (hypotension, urticaria, wheeze) within "  # noqa: E731
                              "30 minutes of first dose", text="Cimzia (certolizumab pegol)")
    n = "in-anaphylaxis-to-certolizumab-never-suggested-after-adalimumab-lost-response"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()], allergies=[czp_ana()]),
         description="A patient with anaphylaxis to certolizumab who lost response to adalimumab: the card "
                     "recommends a different TNFi but never certolizumab (nor adalimumab).",
         source=src, cards={"min": 1, "max": 2}, indicator="warning",
         recommended_any_of=["etanercept", "infliximab", "golimumab"],
         never_suggests=["certolizumab", "adalimumab"])
    n = "in-certolizumab-ordered-despite-anaphylaxis-warns"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_LOST()], allergies=[czp_ana()]),
         description="Ordering certolizumab for a patient with recorded anaphylaxis to it raises a warning or "
                     "critical card and never suggests it.",
         source=src, cards={"min": 1, "max": 3}, indicator=["warning", "critical"],
         never_suggests=["certolizumab", "adalimumab"], text_mentions=[["anaphyla", "allerg"]])
    n = "out-penicillin-allergy-does-not-affect-secukinumab-after-primary-nonresponse"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], allergies=[
        allergy("ai-pen", None, "Hives", code="7980", display="penicillin G", text="Penicillin",
                criticality="low", severity="moderate")]),
         description="An unrelated penicillin allergy does not affect secukinumab after adalimumab primary "
                     "non-response: no warning.",
         source="relevance", cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_acr15() -> None:
    f = "acr-15-csdmard-add-on"
    src = "ACR 2019 #15 (conditional); ASAS-EULAR 2022 #8"
    failing_ada = lambda: ms("ms-ada", "adalimumab", "2023-01-09", None,  # noqa: E731
                             note="Persistent active axial disease (BASDAI 6.1) despite adalimumab since mid-2026")
    failing_etn = lambda: ms("ms-etn", "etanercept", "2022-05-02", None,  # noqa: E731
                             note="Inflammatory back pain back, BASDAI 5.8, despite weekly etanercept")
    n = "in-methotrexate-added-to-failing-adalimumab-axial-disease-warns"
    case(f, n, as_patient(f, n, "methotrexate", history=[failing_ada()]),
         description="Methotrexate ordered as an add-on to adalimumab for purely axial disease warns and suggests "
                     "changing the biologic instead.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", suggests_any_of=BIOLOGICS,
         never_suggests=["methotrexate", "sulfasalazine", "adalimumab"])
    n = "in-sulfasalazine-added-to-failing-etanercept-axial-disease-warns"
    case(f, n, as_patient(f, n, "sulfasalazine", history=[failing_etn()]),
         description="Sulfasalazine added to etanercept for purely axial disease warns and suggests a new "
                     "biologic.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", suggests_any_of=BIOLOGICS,
         never_suggests=["methotrexate", "sulfasalazine", "etanercept"])
    n = "out-sulfasalazine-for-peripheral-arthritis-without-tnfi-no-warning"
    case(f, n, as_patient(f, n, "sulfasalazine", extra_conditions=[cond("c-parth", "peripheral-arthritis",
                                                                        onset="2026-05-01")]),
         description="Sulfasalazine for prominent peripheral arthritis in a patient not on a TNFi is allowed by "
                     "ACR #4: no #15 warning.",
         source="ACR 2019 #4 (conditional)", cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_acr16() -> None:
    f = "acr-16-systemic-glucocorticoid"
    src = "ACR 2019 #16 (strong); ASAS-EULAR 2022 #7"
    n = "in-prednisone-ordered-for-axial-flare-warns"
    case(f, n, as_patient(f, n, "prednisone", history=[ms("ms-ada", "adalimumab", "2023-01-09", None)]),
         description="Oral prednisone ordered for an axial flare warns: systemic glucocorticoids are strongly "
                     "recommended against in AS.",
         source=src, cards={"min": 1, "max": 2}, indicator="warning", never_suggests=["prednisone"],
         text_mentions=[["glucocorticoid", "corticosteroid", "steroid"]])
    n = "out-sacroiliac-triamcinolone-injection-is-local-not-systemic"
    case(f, n, as_patient(f, n, "triamcinolone acetonide", history=[ms("ms-ada", "adalimumab", "2023-01-09", None)]),
         description="An image-guided triamcinolone injection into a sacroiliac joint is a local glucocorticoid "
                     "(ACR #17), not systemic: no #16 warning.",
         source="ACR 2019 #17 (conditional)", cards={"min": 0, "max": 1}, **AT_MOST_INFO)


def build_silent() -> None:
    f = "silent"
    src = "relevance"
    n = "in-as-coded-only-icd10-m45-5-is-recognised-and-fires"
    case(f, n, as_patient(f, n, "adalimumab", as_key="as-thoracolumbar-icd", history=[ADA_PNR()]),
         description="Contrast case: AS coded only as ICD-10-CM M45.5 (thoracolumbar) is recognised, so re-ordering "
                     "the adalimumab that failed is not silent.",
         source=src + "; ACR 2019 #12", cards={"min": 1, "max": 2}, indicator="warning", recommended_any_of=IL17,
         never_suggests=TNFI)
    n = "out-amoxicillin-for-as-patient-no-cards"
    case(f, n, as_patient(f, n, "amoxicillin", history=[ADA_PNR()]),
         description="An antibiotic order (amoxicillin) for an AS patient is outside the service's scope: no cards.",
         source=src, **silent())
    n = "out-atorvastatin-for-as-patient-no-cards"
    case(f, n, as_patient(f, n, "atorvastatin", extra_conditions=[cond("c-lip", "hyperlipidaemia", onset="2022-01-01")]),
         description="A statin order for an AS patient is outside the service's scope: no cards.",
         source=src, **silent())

    def non_axspa(n: str, key: str, generic: str) -> dict:
        p = pid(f, n)
        return request(f"{f}/{n}", p, draft(generic, p), statements=nsaids(),
                       conditions=[cond("c-main", key, onset="2015-02-01")], gender="female", birth="1979-12-12")

    n = "out-rheumatoid-arthritis-only-adalimumab-no-cards"
    case(f, n, non_axspa(n, "ra", "adalimumab"),
         description="Adalimumab for a patient with rheumatoid arthritis and no axSpA diagnosis: no cards.",
         source=src, **silent())
    n = "out-psoriasis-only-adalimumab-no-cards"
    case(f, n, non_axspa(n, "psoriasis", "adalimumab"),
         description="Adalimumab for a patient with psoriasis only (no axSpA diagnosis): no cards.",
         source=src, **silent())
    for status, label in (("refuted", "refuted"), ("entered-in-error", "entered-in-error")):
        n = f"out-{label}-as-condition-adalimumab-no-cards"
        p = pid(f, n)
        c = cond("c-as", "as", verification=status)
        if status == "entered-in-error":
            c.pop("clinicalStatus")  # R4 con-5: no clinicalStatus when entered-in-error
        req = request(f"{f}/{n}", p, draft("adalimumab", p), statements=nsaids(),
                      requests=[], conditions=[c], birth="1990-01-01")
        case(f, n, req,
             description=f"An ankylosing spondylitis Condition whose verificationStatus is {status} is not a "
                         "diagnosis: adalimumab for this patient gets no cards.",
             source=src, **silent())


def build_messy() -> None:
    f = "messy"
    n = "in-uncoded-humira-no-response-and-uncoded-order-suggests-il17"
    case(f, n, as_patient(f, n, "etanercept", order_kw={"coded": False, "text": "Enbrel SureClick 50 mg weekly"},
                          history=[ms("ms-hum", "adalimumab", "2025-01-06", "2025-07-07", coded=False,
                                      text="Humira pen 40mg q2wk", reason="didn't work, no improvement at 6 months")]),
         description="A history and an order written only as brand text ('Humira', 'Enbrel') are still "
                     "recognised: primary non-response to adalimumab leads to an IL-17 recommendation.",
         source="ACR 2019 #12", cards={"min": 1, "max": 2}, recommended_any_of=IL17, never_suggests=TNFI)
    n = "in-missing-dates-adalimumab-not-effective-reordered-warns-and-says-duration-unknown"
    case(f, n, as_patient(f, n, "adalimumab", history=[
        ms("ms-ada", "adalimumab", None, None, status="stopped", reason="Not effective")]),
         description="Adalimumab recorded as stopped for ineffectiveness without any dates is re-ordered: warn, "
                     "and say that the duration (primary vs secondary non-response) could not be told.",
         source="ACR 2019 Table 1; #12/#13", cards={"min": 1, "max": 3}, indicator="warning",
         never_suggests=["adalimumab"],
         text_mentions=[["date", "duration", "unknown", "not recorded", "could not", "cannot", "unclear"]])
    n = "in-duplicate-statement-and-request-for-same-adalimumab-course-counted-once"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_PNR()], requests=[
        mr("mr-ada", "adalimumab", "2025-01-06", "2025-07-07", reason="Discontinued: not effective")]),
         description="The same adalimumab course recorded as a MedicationStatement and a MedicationRequest is one "
                     "course (first TNFi, primary non-response): IL-17 inhibitor recommended.",
         source="ACR 2019 #12", cards={"min": 1, "max": 2}, recommended_any_of=IL17, never_suggests=TNFI,
         text_never_mentions=["failed two TNF", "two TNF inhibitors failed", "two prior TNF"])
    n = "in-unknown-rxnorm-code-among-history-still-suggests-il17"
    case(f, n, as_patient(f, n, "golimumab", history=[
        ADA_PNR(), ms("ms-unk", "adalimumab", "2024-03-01", "2024-09-01", code="99999999", text="Study drug XR-221",
                      reason="Trial ended")]),
         description="An unidentifiable RxNorm code (a study drug) in the history does not stop the primary "
                     "non-response rule; the card says one medication could not be identified.",
         source="ACR 2019 #12", cards={"min": 1, "max": 2}, recommended_any_of=IL17, never_suggests=TNFI,
         text_mentions=[["could not", "not identif", "unidentified", "unrecogni", "unknown", "XR-221"]])
    # a malformed Condition among good ones
    n = "in-one-malformed-condition-among-good-resources-still-warns"
    req = as_patient(f, n, "adalimumab", history=[ADA_PNR()])
    bad = {"resourceType": "Condition", "id": "c-bad", "subject": {"reference": f"Patient/{pid(f, n)}"},
           "code": "M45.9", "clinicalStatus": "active", "onsetDateTime": "last spring"}
    req["prefetch"]["conditions"]["entry"].append({"fullUrl": f"{FHIR_SERVER}/Condition/c-bad", "resource": bad,
                                                   "search": {"mode": "match"}})
    req["prefetch"]["conditions"]["total"] += 1
    case(f, n, req, malformed=True,
         description="One malformed Condition (code given as a bare string) among valid resources: the service "
                     "still warns about re-ordering the adalimumab that failed, and never crashes.",
         source="ACR 2019 #12", cards={"min": 1, "max": 3}, indicator="warning", recommended_any_of=IL17,
         never_suggests=TNFI)
    n = "out-malformed-medicationstatement-with-atorvastatin-order-stays-silent"
    req = as_patient(f, n, "atorvastatin")
    req["prefetch"]["medicationStatements"]["entry"].append({
        "fullUrl": f"{FHIR_SERVER}/MedicationStatement/ms-bad", "search": {"mode": "match"},
        "resource": {"resourceType": "MedicationStatement", "id": "ms-bad", "medicationCodeableConcept": "Humira",
                     "effectivePeriod": {"start": "sometime in 2024"}}})
    req["prefetch"]["medicationStatements"]["total"] += 1
    case(f, n, req, malformed=True,
         description="A malformed MedicationStatement does not make an unrelated atorvastatin order noisy: no "
                     "cards, no error.",
         source="relevance", **silent())
    n = "out-adalimumab-stopped-after-8-weeks-no-reason-is-inadequate-trial-not-failure"
    case(f, n, as_patient(f, n, "etanercept", history=[ms("ms-ada", "adalimumab", "2025-03-03", "2025-04-28")]),
         description="Adalimumab stopped after 8 weeks with no recorded reason is an inadequate trial, not a "
                     "failure: no 'IL-17 after primary non-response' claim.",
         source="Guideline reference §5.2 (TNFi <12 weeks without reason = inadequate trial); ACR 2019 Table 1",
         cards={"min": 0, "max": 2},
         text_never_mentions=["primary non-response to adalimumab", "primary nonresponse to adalimumab"])
    n = "in-adalimumab-stopped-after-16-weeks-not-effective-is-primary-nonresponse"
    case(f, n, as_patient(f, n, "etanercept", history=[
        ms("ms-ada", "adalimumab", "2025-03-03", "2025-06-23", reason="Not effective")]),
         description="Contrast case: adalimumab stopped after 16 weeks as not effective is primary non-response, "
                     "so ordering etanercept prompts an IL-17 recommendation.",
         source="ACR 2019 #12; Table 1 (3-6 months)", cards={"min": 1, "max": 2}, recommended_any_of=IL17,
         never_suggests=TNFI)
    n = "in-medicationrequest-only-history-primary-nonresponse-suggests-il17"
    p = pid(f, n)
    req = request(f"{f}/{n}", p, draft("golimumab", p), statements=[],
                  requests=[mr("mr-npx", "naproxen", "2019-02-01", "2019-05-15", reason="Insufficient relief"),
                            mr("mr-cel", "celecoxib", "2019-05-20", None),
                            mr("mr-ada", "adalimumab", "2025-01-06", "2025-07-07",
                               reason="Discontinued: no response after 6 months")],
                  conditions=[cond("c-axspa", "as")])
    case(f, n, req,
         description="A history held only as MedicationRequests (no MedicationStatement, as in many EHRs) is read: "
                     "adalimumab primary non-response, golimumab ordered, IL-17 inhibitor recommended.",
         source="ACR 2019 #12", cards={"min": 1, "max": 2}, recommended_any_of=IL17, never_suggests=TNFI)


# ------------------------------------------------------------------------------------------- write
def main() -> None:
    if SEED.exists():
        SEED_COPY.parent.mkdir(exist_ok=True)
        shutil.copyfile(SEED, SEED_COPY)
    for build in (build_seed, build_acr12, build_acr13, build_ae, build_jak, build_ibd, build_uveitis,
                  build_psoriasis, build_hf, build_ms, build_tb, build_screening, build_boxed, build_nr,
                  build_allergy, build_acr15, build_acr16, build_silent, build_messy):
        build()
    folders = sorted({c[0] for c in CASES})
    for folder in folders:
        for old in (HERE / folder).glob("*.json"):
            if not old.name.startswith("_"):
                old.unlink()
    names = set()
    for folder, name, req, exp in CASES:
        assert (folder, name) not in names, name
        names.add((folder, name))
        assert name.startswith(("in-", "out-")), name
        out = HERE / folder
        out.mkdir(exist_ok=True)
        (out / f"{name}.request.json").write_text(json.dumps(req, indent=2, ensure_ascii=False) + "\n")
        (out / f"{name}.expected.json").write_text(json.dumps(exp, indent=2, ensure_ascii=False) + "\n")
    write_index()
    print(f"wrote {len(CASES)} cases in {len(folders)} folders")


def write_index() -> None:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else ""
    marker = "<!-- index:start -->"
    end = "<!-- index:end -->"
    rows = ["| Folder | Case | What it proves | Source |", "|---|---|---|---|"]
    for folder, name, _, exp in sorted(CASES, key=lambda c: (c[0], c[1])):
        rows.append(f"| `{folder}` | `{name}` | {exp['description']} | {exp['source']} |")
    table = "\n".join([marker, *rows, end])
    if marker in text:
        text = text[: text.index(marker)] + table + text[text.index(end) + len(end):]
    else:
        text = text + "\n" + table + "\n"
    readme.write_text(text)


if __name__ == "__main__":
    main()
