"""Build the fixture requests and expectations from the compact case definitions below.

Run ``.venv/bin/python -m fhir_fixtures._build`` (or ``.venv/bin/python fhir_fixtures/_build.py``) from the repository
root. The generated JSON files are what the tests read; this script exists to make the cases easy to review and to
regenerate, and ``tests/test_fixtures.py`` checks that the committed JSON is exactly what it writes. The FHIR shapes
come from ``fhir_fixtures/builders.py`` (shared with the clinical tests). Every date is fixed; "today" for the cases
is 2026-11-24.

Expectations name the rules (their rules.toml ids) a case must fire (``fires``: carried in ``source.topic`` of some
card) or must not (``never_fires``); wording is checked only where the words themselves are the safety property.
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_fixtures import builders as b

HERE = Path(__file__).resolve().parent
SEED_COPY = HERE / "seed" / "_seed-source.json"  # the project's copy of the shared seed request (not itself a case)
TODAY = b.TODAY
PT = "fixture"  # placeholder patient: request() points every resource at the case's patient

TNFI = ["etanercept", "adalimumab", "infliximab", "certolizumab", "golimumab"]
TNF_MAB = ["adalimumab", "infliximab", "certolizumab", "golimumab"]
IL17 = ["secukinumab", "ixekizumab", "bimekizumab"]
JAKI = ["tofacitinib", "upadacitinib"]
BIOLOGICS = TNFI + IL17
NR_AXSPA_OFF_LABEL = ["adalimumab", "etanercept", "infliximab", "golimumab", "tofacitinib"]
OTHER_TNFI = ["etanercept", "infliximab", "certolizumab", "golimumab"]


# ------------------------------------------------------------------------------ FHIR, in this file's defaults
def ms(rid: str, generic: str, start: str | None, end: str | None = None, *, reason: str | None = None,
       reason_codes: tuple[tuple[str, str, str], ...] = (), status: str | None = None, coded: bool = True,
       text: str | None = None, code: str | None = None, note: str | None = None) -> dict:
    """A MedicationStatement: a course of therapy. ``end`` None and no explicit status = still active."""
    return b.medication_statement(rid, generic, patient=PT, start=start, end=end,
                                  status=status or ("stopped" if end else "active"), reason=reason,
                                  reason_codes=reason_codes, note=note, text=text or b.brand_dose(generic), code=code,
                                  coded=coded, asserted=end or start or "2026-06-01")


def mr(rid: str, generic: str, start: str, end: str | None = None, *, reason: str | None = None,
       status: str | None = None, coded: bool = True, text: str | None = None) -> dict:
    """A historical MedicationRequest (an order), as EHRs without medication statements hold the history."""
    return b.medication_request(rid, generic, patient=PT, authored=start, end=end,
                                status=status or ("stopped" if end else "active"), reason=reason,
                                text=text or b.product_text(generic), coded=coded, dose=b.DRUGS[generic][3], repeats=11)


def draft(generic: str, *, coded: bool = True, text: str | None = None, draft_id: str | None = None,
          dose: str | None = None) -> dict:
    return b.draft_order(generic, patient=PT, rid=draft_id, text=text or b.product_text(generic), coded=coded,
                         dose=dose or b.DRUGS[generic][3], authored=TODAY)


def cond(rid: str, key: str, *, clinical: str = "active", verification: str = "confirmed", onset: str | None = "2016-05-01",
         systems: str = "both", severity: str | None = None, abatement: str | None = None,
         recorded: str | None = None) -> dict:
    return b.condition(rid, key, patient=PT, clinical=clinical, verification=verification, onset=onset,
                       abatement=abatement, recorded=recorded, systems=systems, severity=severity, full=True)


def allergy(rid: str, generic: str | None, manifestation: str, *, type_: str = "allergy", criticality: str = "high",
            severity: str = "severe", text: str | None = None, code: str | None = None,
            display: str | None = None) -> dict:
    shown = text or (f"{b.DRUGS[generic][1]} ({generic})" if generic else display)
    return b.allergy(rid, generic, patient=PT, reaction=manifestation, kind=type_, criticality=criticality,
                     severity=severity, text=shown, code=code, display=display, recorded="2024-03-01")


def obs(rid: str, kind: str, value: str | None = None, *, when: str | None = "2026-09-15", quantity: float | None = None,
        unit: str | None = None, status: str = "final") -> dict:
    return b.observation(rid, kind, patient=PT, value=value, when=when, status=status, quantity=quantity, unit=unit)


def negative_screening() -> list[dict]:
    """IGRA, HBsAg and anti-HBc negative on 2026-09-15: the screening reminders are silenced."""
    return [obs("o-igra", "igra", "negative"), obs("o-hbsag", "hbsag", "negative"), obs("o-antihbc", "anti-hbc", "negative")]


def _point_at(request: dict, patient_id: str) -> None:
    subject = b.subject(patient_id)
    resources = [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    for value in request["prefetch"].values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            resources += [e["resource"] for e in value.get("entry", [])]
    for res in resources:
        res["patient" if res.get("resourceType") == "AllergyIntolerance" else "subject"] = subject


def request(case_key: str, patient_id: str, orders: list[dict], **kw: Any) -> dict:
    req = b.cds_request(case_key, patient_id, orders, **kw)
    _point_at(req, patient_id)
    return req


NSAID_HISTORY = (
    ("naproxen", "2019-02-01", "2019-05-15", "Insufficient relief at maximum dose"),
    ("celecoxib", "2019-05-20", None, None),
)


def nsaids(prefix: str = "ms") -> list[dict]:
    return [ms(f"{prefix}-{g[:3]}", g, s, e, reason=r, note=None if e else "Ongoing; partial relief only")
            for g, s, e, r in NSAID_HISTORY]


# ------------------------------------------------------------------------------------------ cases
CASES: list[tuple[str, str, dict, dict]] = []  # (folder, case name, request, expected)


def case(folder: str, name: str, req: dict, **expected: Any) -> None:
    exp = {"description": expected.pop("description"), "rule": folder, "source": expected.pop("source")}
    exp.update(expected)
    CASES.append((folder, name, req, exp))


def silent(**kw: Any) -> dict:
    return {"cards": {"min": 0, "max": 0}, **kw}


AT_MOST_INFO = {"indicator": ["info"]}  # silence allowed when cards.min == 0; any card must be info


def pid(folder: str, name: str) -> str:
    words = name.split("-")[:6]
    return ("pt-" + "-".join(words))[:64]


def as_patient(folder: str, name: str, order_generic: str, *, history: list[dict] | tuple = (),
               extra_conditions: list[dict] | tuple = (), allergies: list[dict] | tuple = (), birth: str = "1984-03-02",
               gender: str = "male", requests: list[dict] | tuple = (), hook: str = "order-select",
               systems: str = "both", order_kw: dict | None = None, as_key: str = "as",
               observations: list[dict] | tuple = (), nsaid_history: list[dict] | None = None,
               extra_orders: list[dict] | tuple = ()) -> dict:
    p = pid(folder, name)
    return request(f"{folder}/{name}", p, [draft(order_generic, **(order_kw or {})), *extra_orders],
                   statements=[*(nsaids() if nsaid_history is None else nsaid_history), *history],
                   requests=list(requests), conditions=[cond("c-axspa", as_key, systems=systems), *extra_conditions],
                   allergies=list(allergies), observations=list(observations), birth=birth, gender=gender, hook=hook)


ADA_PNR = lambda: ms("ms-ada", "adalimumab", "2025-01-06", "2025-07-07",  # noqa: E731
                     reason="Not effective: no meaningful improvement in BASDAI after 6 months")
ADA_LOST = lambda: ms("ms-ada", "adalimumab", "2021-03-01", "2025-09-15",  # noqa: E731
                      reason="Loss of response: good response for 4 years, disease activity returned despite adherence")
ETN_LOST = lambda: ms("ms-etn", "etanercept", "2020-02-01", "2025-10-01",  # noqa: E731
                      reason="Secondary loss of efficacy after 5 years of good control")
ETN_ISR = lambda: ms("ms-etn", "etanercept", "2025-02-03", "2025-03-17",  # noqa: E731
                     reason="Injection site reaction (erythema, induration, itching) after every dose")
TWO_NSAIDS_NON_SELECTIVE = lambda: [  # noqa: E731
    ms("ms-ibu", "ibuprofen", "2024-01-08", "2024-04-15", reason="Insufficient relief at full dose"),
    ms("ms-npx", "naproxen", "2024-04-22", None, note="Ongoing; partial relief only"),
]


# ---- seed -------------------------------------------------------------------------------------------
def seed_request() -> dict:
    return json.loads(SEED_COPY.read_text())


def seed_variant(case_key: str, order_generic: str | None = None, *, extra_orders: tuple[str, ...] = (),
                 hook: str | None = None) -> dict:
    req = seed_request()
    req["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-fixture:{case_key}"))
    req["prefetch"]["observations"] = b.bundle([])
    orders = [e["resource"] for e in req["context"]["draftOrders"]["entry"]]
    if order_generic:
        orders = [draft(order_generic)]
    orders += [draft(g) for g in extra_orders]
    for order in orders:
        order["subject"] = b.subject("seed-patient")
    req["context"]["draftOrders"]["entry"] = [{"resource": o} for o in orders]
    req["context"]["selections"] = [f"MedicationRequest/{orders[0]['id']}"]
    if hook == "order-sign":
        req["hook"] = "order-sign"
        req["context"].pop("selections")
    return req


def as_own_patient(req: dict, patient_id: str) -> dict:
    """The seed record as another patient's: a variant that changes the record gets its own patient id, so that a FHIR
    server loaded with the fixtures (deploy/load_fixtures.py) keeps the seed patient's record as it is."""
    req["context"]["patientId"] = patient_id
    req["prefetch"]["patient"]["id"] = patient_id
    req["prefetch"]["patient"]["name"] = [{"family": "Fixture", "given": [patient_id]}]
    _point_at(req, patient_id)
    return req


def seed_add(req: dict, key: str, *resources: dict) -> None:
    entries = req["prefetch"][key]["entry"]
    for res in resources:
        res["patient" if res["resourceType"] == "AllergyIntolerance" else "subject"] = b.subject(
            req["context"]["patientId"])
        entries.append({"fullUrl": f"{b.FHIR_SERVER}/{res['resourceType']}/{res['id']}", "resource": res,
                        "search": {"mode": "match"}})
    req["prefetch"][key]["total"] = len(entries)


SEED_NEVER = ["upadacitinib", "tofacitinib", "etanercept"]
SEED_PNR = ["primary non-response to etanercept", "primary nonresponse to etanercept"]


def build_seed() -> None:
    f = "seed"
    src = "clinical reasoning and ASAS-EULAR 2022 #12 (no JAK after JAK); ACR 2019 Table 1 (an AE is not non-response)"
    case(f, "in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard", seed_request(),
         description="The shared seed patient (etanercept stopped for an injection-site reaction, upadacitinib "
                     "ineffective, celecoxib ongoing) is re-ordered upadacitinib: one warning card, a TNF monoclonal "
                     "antibody recommended and an IL-17 inhibitor offered, never etanercept, tofacitinib or "
                     "upadacitinib; the etanercept stop is never called primary non-response.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_jak_after_jak_failure"],
         recommended_any_of=TNF_MAB, suggests_from_each=[TNF_MAB, IL17], never_suggests=SEED_NEVER,
         deletes_selection=True, text_never_mentions=SEED_PNR)

    key = "seed/in-seed-without-allergyintolerance-still-never-suggests-etanercept"
    req = seed_variant(key)
    req["prefetch"]["allergies"] = b.bundle([])
    case(f, key.split("/")[1], req,
         description="Without the AllergyIntolerance record, the stopped-for-injection-site-reaction statement alone "
                     "still keeps etanercept out of the suggestions.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_jak_after_jak_failure"],
         recommended_any_of=TNF_MAB, never_suggests=SEED_NEVER, deletes_selection=True)

    key = "seed/in-seed-free-text-brand-names-only-gives-same-advice"
    req = seed_variant(key)
    for e in req["prefetch"]["medicationStatements"]["entry"]:
        e["resource"]["medicationCodeableConcept"].pop("coding")
    for e in req["prefetch"]["allergies"]["entry"]:
        e["resource"]["code"] = {"text": "Enbrel"}
    req["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"] = {
        "text": "Rinvoq 15 mg extended-release tablet"}
    case(f, key.split("/")[1], req,
         description="The seed record with no RxNorm codes at all (only 'Enbrel', 'Rinvoq', 'Celebrex' in text) is "
                     "read by brand name and gets the same warning and the same suggestions.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_jak_after_jak_failure"],
         recommended_any_of=TNF_MAB, never_suggests=SEED_NEVER, deletes_selection=True)

    key = "seed/out-seed-orders-secukinumab-concordant-no-warning"
    case(f, key.split("/")[1], seed_variant(key, "secukinumab"),
         description="For the seed patient, secukinumab (an IL-17i after a failed JAKi and an etanercept "
                     "intolerance) is concordant: at most an informational card (screening), never a warning.",
         source="ASAS-EULAR 2022 #12", cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["no_jak_after_jak_failure", "never_allergen", "never_failed_molecule"], never_suggests=SEED_NEVER)

    key = "seed/in-seed-orders-etanercept-again-warns-intolerance"
    case(f, key.split("/")[1], seed_variant(key, "etanercept"),
         description="Re-ordering etanercept for the seed patient, whose etanercept was stopped for an "
                     "injection-site reaction and who has a recorded intolerance, warns and offers other options.",
         source="Patient record (AllergyIntolerance); ACR 2019 Table 1 (AE switch, clinician judgement)",
         cards={"min": 1, "max": 1}, indicator="warning", fires=["never_allergen"], never_suggests=SEED_NEVER,
         suggests_any_of=TNF_MAB + IL17, deletes_selection=True, text_never_mentions=SEED_PNR)

    key = "seed/in-seed-variant-pregnant-orders-upadacitinib-suggests-certolizumab"
    req = as_own_patient(seed_variant(key), "seed-patient-pregnant")
    req["prefetch"]["patient"]["gender"] = "female"
    seed_add(req, "conditions", cond("c-preg", "pregnant", onset="2026-09-10", recorded="2026-09-10"))
    case(f, key.split("/")[1], req,
         description="The seed patient, now pregnant (Condition Z33.1), is re-ordered upadacitinib: the warning is "
                     "the pregnancy (no JAK inhibitor), certolizumab pegol is recommended, and no IL-17 or JAK "
                     "inhibitor is offered; continuing celecoxib is not advised without the gestational age.",
         source="Rinvoq label (embryo-fetal toxicity); ACR 2020 reproductive health (certolizumab strong; IL-17i stop)",
         cards={"min": 1, "max": 1}, indicator="warning", fires=["pregnancy_no_jak"],
         recommended_any_of=["certolizumab"], never_suggests=SEED_NEVER + IL17, deletes_selection=True,
         text_never_mentions=["Continue celecoxib"])

    key = "seed/in-seed-variant-age-69-former-smoker-orders-upadacitinib-no-jak-offered"
    req = as_own_patient(seed_variant(key), "seed-patient-69-former-smoker")
    req["prefetch"]["patient"]["birthDate"] = "1957-03-02"
    seed_add(req, "observations", obs("o-smoking", "smoking", "former smoker", when="2026-10-01"))
    case(f, key.split("/")[1], req,
         description="The seed patient at 69 with a smoking-status Observation 'former smoker': the card still "
                     "warns about the JAK re-order, says what JAK boxed-warning risk the record carries, and offers "
                     "no JAK inhibitor.",
         source="JAKi boxed warning; EMA 2022 Article 20 review", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_jak_after_jak_failure"], recommended_any_of=TNF_MAB, never_suggests=SEED_NEVER,
         text_mentions=["former smoker"])

    key = "seed/in-seed-variant-latent-tb-untreated-orders-secukinumab-warns-treat-first"
    req = as_own_patient(seed_variant(key, "secukinumab"), "seed-patient-latent-tb")
    seed_add(req, "conditions", cond("c-ltbi", "latent-tb", onset="2026-10-20"))
    case(f, key.split("/")[1], req,
         description="The seed patient with latent TB (Z22.7) and no TB treatment on record, secukinumab ordered: "
                     "a warning to treat latent TB before starting (not a screening reminder).",
         source="FDA labels (Cosentyx: initiate treatment of latent TB prior to administering)",
         cards={"min": 1, "max": 1}, indicator="warning", fires=["latent_tb_untreated"],
         never_fires=["tb_screening"])

    key = "seed/in-seed-order-sign-upadacitinib-and-prednisone-two-warnings"
    req = seed_variant(key, extra_orders=("prednisone",), hook="order-sign")
    case(f, key.split("/")[1], req,
         description="At order-sign, the seed patient's upadacitinib and an oral prednisone taper are both "
                     "answered: one warning per order.",
         source=src + "; ACR 2019 #16 (strong)", cards={"min": 2, "max": 2}, indicator="warning",
         fires=["no_jak_after_jak_failure", "no_systemic_glucocorticoids"], never_suggests=SEED_NEVER)


# ---- ACR #12 primary non-response --------------------------------------------------------------------
def build_acr12() -> None:
    f = "acr-12-tnfi-primary-nonresponse"
    src = "ACR 2019 #12 (conditional, low)"
    n = "in-adalimumab-no-response-6-months-orders-certolizumab-suggests-il17"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_PNR()]),
         description="After 6 months of adalimumab without meaningful improvement (primary non-response), ordering "
                     "a second TNFi prompts a card recommending secukinumab/ixekizumab/bimekizumab instead.",
         source=src, cards={"min": 1, "max": 1}, fires=["tnfi_primary_nonresponse_il17"], recommended_any_of=IL17,
         never_suggests=TNFI)  # JAKi may be offered as an alternative (ASAS-EULAR 2022 #12)
    n = "in-adalimumab-no-response-6-months-reordered-warns-suggests-il17"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_PNR()]),
         description="Re-ordering the same TNFi that produced no response over 6 months warns (the molecule failed) "
                     "and recommends an IL-17 inhibitor.",
         source=src + "; ACR 2019 #14", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], recommended_any_of=IL17, never_suggests=TNFI, deletes_selection=True)
    n = "out-adalimumab-stopped-for-injection-site-reaction-is-not-primary-nonresponse"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[
        ms("ms-ada", "adalimumab", "2025-03-03", "2025-05-05",
           reason="Injection site reaction: painful erythema and swelling after each dose")]),
         description="Adalimumab stopped after 2 months for an injection-site reaction is an adverse event, not "
                     "primary non-response: ordering another TNF mAb is not contradicted by ACR #12.",
         source="ACR 2019 Table 1 (non-response excludes toxicity)", cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["tnfi_primary_nonresponse_il17"], never_suggests=["adalimumab"],
         text_never_mentions=["primary non-response to adalimumab", "primary nonresponse to adalimumab"])
    n = "out-adalimumab-primary-nonresponse-orders-secukinumab-concordant"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()]),
         description="Ordering secukinumab after adalimumab primary non-response follows ACR #12: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["tnfi_primary_nonresponse_il17", "never_failed_molecule"], never_suggests=TNFI)


def build_acr13() -> None:
    f = "acr-13-14-tnfi-secondary-nonresponse"
    n = "in-adalimumab-lost-response-orders-amjevita-biosimilar-warns"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()], order_kw={
        "text": "adalimumab-atto (Amjevita) 40 mg/0.8 mL SureClick auto-injector", "draft_id": "draft-amjevita"}),
         description="After loss of response to adalimumab, ordering its biosimilar adalimumab-atto (Amjevita) "
                     "warns (same molecule) and recommends a different TNFi.",
         source="ACR 2019 #14 (strong) and #13 (conditional)", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], recommended_any_of=OTHER_TNFI, never_suggests=["adalimumab"],
         deletes_selection=True)
    n = "in-adalimumab-lost-response-reordered-warns-suggests-different-tnfi"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()]),
         description="Re-ordering adalimumab after it lost its effect warns and recommends a different TNFi.",
         source="ACR 2019 #13 (conditional), #14 (strong)", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], recommended_any_of=OTHER_TNFI, never_suggests=["adalimumab"],
         deletes_selection=True)
    n = "in-etanercept-lost-response-orders-secukinumab-suggests-different-tnfi"
    case(f, n, as_patient(f, n, "secukinumab", history=[ETN_LOST()]),
         description="After secondary non-response to etanercept, an IL-17i order prompts a card suggesting a "
                     "different TNFi first (ACR #13), never etanercept again.",
         source="ACR 2019 #13 (conditional, very low)", cards={"min": 1, "max": 1},
         fires=["tnfi_secondary_nonresponse_other_tnfi"], suggests_any_of=TNF_MAB, never_suggests=["etanercept"])
    n = "out-etanercept-lost-response-orders-certolizumab-concordant"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ETN_LOST()]),
         description="Certolizumab after loss of response to etanercept is a different TNFi (ACR #13): no warning.",
         source="ACR 2019 #13", cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["tnfi_secondary_nonresponse_other_tnfi", "no_biosimilar_of_failed_tnfi"],
         never_suggests=["etanercept"])


def build_ae() -> None:
    f = "tnfi-stopped-for-adverse-event"
    src = "ACR 2019 Table 1 (no ACR recommendation covers an AE stop; NICE TA143 allows another TNFi)"
    n = "in-etanercept-injection-site-reaction-reordered-offers-tnf-mab-and-il17"
    case(f, n, as_patient(f, n, "etanercept", history=[ETN_ISR()], allergies=[
        allergy("ai-etn", "etanercept", "Injection site reaction with erythema and swelling", type_="intolerance",
                criticality="low", severity="mild")]),
         description="Etanercept stopped for an injection-site reaction is re-ordered: warn, and offer both a TNF "
                     "monoclonal antibody and an IL-17i, never etanercept.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["never_allergen"],
         never_suggests=["etanercept"], suggests_from_each=[TNF_MAB, IL17], deletes_selection=True,
         text_never_mentions=SEED_PNR)
    n = "in-adalimumab-injection-site-reaction-orders-biosimilar-warns-same-molecule"
    case(f, n, as_patient(f, n, "adalimumab", history=[
        ms("ms-ada", "adalimumab", "2025-04-07", "2025-05-19", reason="Injection site reaction, severe local pain")],
        order_kw={"text": "adalimumab-adaz (Hyrimoz) 40 mg/0.4 mL pen", "draft_id": "draft-hyrimoz"}),
         description="A biosimilar of the adalimumab that caused an injection-site reaction is the same molecule: "
                     "warn and never suggest adalimumab.",
         source=src + "; ACR 2019 #14 (biosimilar = same molecule)", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["never_allergen"], never_suggests=["adalimumab"], suggests_any_of=OTHER_TNFI + IL17)
    n = "out-etanercept-injection-site-reaction-orders-adalimumab-concordant"
    case(f, n, as_patient(f, n, "adalimumab", history=[ETN_ISR()]),
         description="Adalimumab after etanercept stopped for a local injection-site reaction is a reasonable "
                     "switch: no warning, and the stop is not called primary non-response.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["never_allergen", "tnfi_primary_nonresponse_il17"], never_suggests=["etanercept"],
         text_never_mentions=SEED_PNR)


def build_jak() -> None:
    f = "jak-inhibitor-failure"
    src = "clinical reasoning (no axSpA evidence for JAK-to-JAK switching); ASAS-EULAR 2022 #12"
    hist = lambda: [ADA_LOST(), ms("ms-upa", "upadacitinib", "2025-10-20", "2026-04-20",  # noqa: E731
                                   reason="Not effective: no improvement after 6 months")]
    n = "in-tofacitinib-ordered-after-upadacitinib-failure-warns-suggests-bdmard"
    case(f, n, as_patient(f, n, "tofacitinib", history=hist()),
         description="Tofacitinib ordered after upadacitinib failed warns (another JAK inhibitor) and recommends a "
                     "bDMARD other than the adalimumab that already lost response.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_jak_after_jak_failure"],
         recommended_any_of=OTHER_TNFI + IL17, never_suggests=JAKI + ["adalimumab"], deletes_selection=True)
    n = "out-upadacitinib-failure-orders-ixekizumab-concordant"
    case(f, n, as_patient(f, n, "ixekizumab", history=hist()),
         description="Ixekizumab after failure of adalimumab and upadacitinib is a bDMARD switch: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["no_jak_after_jak_failure"],
         never_suggests=JAKI + ["adalimumab"])


def build_ibd() -> None:
    f = "emm-ibd"
    src = "ACR 2019 #41 (conditional); ASAS-EULAR 2022 #10; FDA IL-17i labels (IBD)"
    n = "in-secukinumab-ordered-with-crohns-snomed-warns-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[cond("c-crohn", "crohns", systems="snomed",
                                                                      onset="2018-09-01")]),
         description="Secukinumab ordered for a patient with active Crohn's disease (SNOMED-coded) warns and "
                     "recommends a TNF monoclonal antibody.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["ibd_tnf_mab_no_il17"],
         recommended_any_of=TNF_MAB, never_suggests=IL17 + ["etanercept"], deletes_selection=True)
    n = "in-ixekizumab-ordered-with-ulcerative-colitis-icd10-warns"
    case(f, n, as_patient(f, n, "ixekizumab", extra_conditions=[cond("c-uc", "uc", systems="icd", onset="2020-01-15")]),
         description="Ixekizumab ordered with ulcerative colitis coded only in ICD-10-CM (K51.90) warns and "
                     "recommends a TNF monoclonal antibody, not an IL-17i or etanercept.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["ibd_tnf_mab_no_il17"],
         recommended_any_of=TNF_MAB, never_suggests=IL17 + ["etanercept"])
    n = "in-order-sign-bimekizumab-with-crohns-icd10-warns"
    case(f, n, as_patient(f, n, "bimekizumab", hook="order-sign",
                          extra_conditions=[cond("c-crohn", "crohns", systems="icd", onset="2019-04-01")]),
         description="At order-sign (no selections), a bimekizumab order for a patient with Crohn's disease "
                     "(K50.90) still warns and points to a TNF monoclonal antibody.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["ibd_tnf_mab_no_il17"],
         suggests_any_of=TNF_MAB, never_suggests=IL17 + ["etanercept"])
    n = "out-resolved-crohns-does-not-block-secukinumab"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], extra_conditions=[
        cond("c-crohn", "crohns", clinical="resolved", onset="2009-02-01", abatement="2012-06-30")]),
         description="A single Crohn's episode recorded as resolved in 2012 does not block an IL-17i after "
                     "adalimumab primary non-response: no warning (an informational caution is acceptable).",
         source="ASAS-EULAR 2022 #10 ('active IBD'); judgement documented in README",
         cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["ibd_tnf_mab_no_il17"], never_suggests=["adalimumab"])
    n = "out-no-ibd-secukinumab-after-primary-nonresponse-no-warning"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()]),
         description="Without IBD on record, secukinumab after adalimumab primary non-response raises no IBD "
                     "warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["ibd_tnf_mab_no_il17"])


def build_uveitis() -> None:
    f = "emm-recurrent-uveitis"
    src = "ACR 2019 #39 (conditional); ASAS-EULAR 2022 #10"
    uv = lambda: cond("c-uveitis", "uveitis", onset="2019-08-10")  # noqa: E731
    n = "in-etanercept-ordered-with-recurrent-uveitis-warns-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[uv()]),
         description="Etanercept ordered for a patient with recurrent anterior uveitis warns and recommends a TNF "
                     "monoclonal antibody (adalimumab, infliximab, certolizumab or golimumab).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["uveitis_tnf_mab"],
         recommended_any_of=TNF_MAB, never_suggests=["etanercept"] + IL17, deletes_selection=True)
    n = "in-secukinumab-ordered-with-recurrent-uveitis-suggests-tnf-mab"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[uv()]),
         description="Secukinumab as first biologic with recurrent uveitis prompts a card suggesting a TNF "
                     "monoclonal antibody instead (advice: a preference, not a contraindication).",
         source=src, cards={"min": 1, "max": 1}, fires=["uveitis_tnf_mab"], suggests_any_of=TNF_MAB,
         never_suggests=["etanercept"] + IL17)
    n = "out-adalimumab-ordered-with-recurrent-uveitis-concordant"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[uv()]),
         description="Adalimumab (a TNF mAb) for a patient with recurrent uveitis follows ACR #39: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["uveitis_tnf_mab"],
         never_suggests=["etanercept"] + IL17)


def build_psoriasis() -> None:
    f = "emm-psoriasis"
    src = "ASAS-EULAR 2022 #10"
    pso = lambda: cond("c-pso", "psoriasis", onset="2012-03-01", severity="severe")  # noqa: E731
    n = "in-etanercept-ordered-with-significant-psoriasis-suggests-il17"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[pso()]),
         description="Etanercept ordered as first biologic for a patient with severe plaque psoriasis prompts a "
                     "card suggesting an IL-17 inhibitor, which may be preferred.",
         source=src, cards={"min": 1, "max": 1}, indicator=["info", "warning"], fires=["psoriasis_il17"],
         suggests_any_of=IL17)
    n = "out-secukinumab-ordered-with-psoriasis-concordant"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[pso()]),
         description="Secukinumab for a patient with severe psoriasis follows ASAS-EULAR #10: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["psoriasis_il17"])


def build_hf() -> None:
    f = "contra-heart-failure"
    src = "ACR 2019 narrative to #11; FDA TNFi labels (heart failure)"
    n = "in-adalimumab-ordered-with-heart-failure-warns-suggests-il17"
    case(f, n, as_patient(f, n, "adalimumab", birth="1961-07-19",
                          extra_conditions=[cond("c-hf", "hf", onset="2023-02-11")]),
         description="Adalimumab ordered for a patient with heart failure warns (TNFi may worsen heart failure) "
                     "and recommends an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hf_demyelinating_no_tnfi"],
         recommended_any_of=IL17, never_suggests=TNFI, deletes_selection=True)
    n = "in-golimumab-ordered-with-congestive-heart-failure-snomed-warns"
    case(f, n, as_patient(f, n, "golimumab", birth="1958-01-30",
                          extra_conditions=[cond("c-chf", "chf", onset="2024-06-01")]),
         description="Golimumab ordered with congestive heart failure (SNOMED 42343007 only) warns and offers an "
                     "IL-17 inhibitor, never a TNFi.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hf_demyelinating_no_tnfi"],
         suggests_any_of=IL17, never_suggests=TNFI)
    n = "out-secukinumab-ordered-with-heart-failure-concordant"
    case(f, n, as_patient(f, n, "secukinumab", birth="1961-07-19",
                          extra_conditions=[cond("c-hf", "hf", onset="2023-02-11")]),
         description="Secukinumab for a patient with heart failure is the preferred non-TNF option: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["hf_demyelinating_no_tnfi"],
         never_suggests=TNFI)


def build_ms() -> None:
    f = "contra-demyelinating"
    src = "ACR 2019 narrative to #11; FDA TNFi labels (demyelinating disease)"
    n = "in-etanercept-ordered-with-multiple-sclerosis-warns-suggests-il17"
    case(f, n, as_patient(f, n, "etanercept", gender="female", birth="1988-11-02",
                          extra_conditions=[cond("c-ms", "ms", onset="2017-10-01")]),
         description="Etanercept ordered for a patient with relapsing-remitting multiple sclerosis warns "
                     "(demyelination) and recommends an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hf_demyelinating_no_tnfi"],
         recommended_any_of=IL17, never_suggests=TNFI, deletes_selection=True)
    n = "in-certolizumab-ordered-with-multiple-sclerosis-legacy-icd-g35-warns"
    case(f, n, as_patient(f, n, "certolizumab pegol", gender="female", birth="1990-04-22",
                          extra_conditions=[cond("c-ms", "ms-legacy", onset="2015-03-01")]),
         description="Multiple sclerosis coded with the legacy ICD-10-CM G35 still blocks certolizumab: warning, "
                     "IL-17 inhibitor offered, no TNFi.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hf_demyelinating_no_tnfi"],
         suggests_any_of=IL17, never_suggests=TNFI)
    n = "out-ixekizumab-ordered-with-multiple-sclerosis-concordant"
    case(f, n, as_patient(f, n, "ixekizumab", gender="female", birth="1988-11-02",
                          extra_conditions=[cond("c-ms", "ms", onset="2017-10-01")]),
         description="Ixekizumab for a patient with multiple sclerosis avoids TNFi as advised: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["hf_demyelinating_no_tnfi"],
         never_suggests=TNFI)


# ---- infections -----------------------------------------------------------------------------------------
def build_tb() -> None:
    f = "infection-active-tb"
    src = "FDA labels (all biologics and JAKi: TB)"
    n = "in-active-tb-adalimumab-ordered-critical"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-tb", "active-tb", onset="2026-10-02")]),
         description="Adalimumab ordered for a patient with active pulmonary tuberculosis gets a critical card; "
                     "no biologic or JAK inhibitor is suggested while TB is active.",
         source=src, cards={"min": 1, "max": 1}, indicator="critical", fires=["active_tb_hold"],
         never_suggests=BIOLOGICS + JAKI)
    n = "in-active-tb-icd-only-secukinumab-ordered-critical"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[cond("c-tb", "active-tb-icd", onset="2026-09-14")]),
         description="Active TB coded only as ICD-10-CM A15.0 blocks an IL-17 inhibitor too: critical card.",
         source=src, cards={"min": 1, "max": 1}, indicator="critical", fires=["active_tb_hold"],
         never_suggests=BIOLOGICS + JAKI)
    n = "out-tb-treated-and-resolved-is-not-critical"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[
        cond("c-tb", "active-tb", clinical="resolved", onset="2010-01-10", abatement="2010-08-30")]),
         description="Pulmonary TB treated and resolved in 2010 is no hold for adalimumab: at most a card asking "
                     "to confirm that treatment was adequate, never critical.",
         source=src, cards={"min": 0, "max": 1}, indicator=["info", "warning"], never_fires=["active_tb_hold"])


def build_screening() -> None:
    f = "infection-screening"
    src = ("FDA labels (test for latent TB and evaluate for hepatitis B before starting); a negative result within 12 "
           "months silences the reminder (design choice)")
    n = "in-no-tb-or-hepatitis-b-result-adalimumab-gets-a-screening-reminder"
    case(f, n, as_patient(f, n, "adalimumab"),
         description="A first TNF inhibitor with no IGRA, TST, HBsAg or anti-HBc result in the last 12 months: one "
                     "informational card reminding to screen for TB and hepatitis B, no suggestion.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["tb_screening"], never_suggests=BIOLOGICS)
    n = "in-igra-mitogen-control-only-is-no-tb-result-reminder-stays"
    case(f, n, as_patient(f, n, "adalimumab", observations=[
        obs("o-mitogen", "igra-mitogen", quantity=8.2, unit="[IU]/mL"), obs("o-hbsag", "hbsag", "negative"),
        obs("o-antihbc", "anti-hbc", "negative")]),
         description="The only IGRA-related Observation is the mitogen control (LOINC 71774-4): it is not a TB "
                     "result, so the TB screening reminder stays.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["tb_screening"])
    n = "in-hbsag-only-recorded-reminds-to-test-anti-hbc"
    case(f, n, as_patient(f, n, "adalimumab", observations=[obs("o-igra", "igra", "negative"),
                                                             obs("o-hbsag", "hbsag", "negative")]),
         description="IGRA and HBsAg negative but no anti-HBc result: the card reminds to test anti-HBc and says the "
                     "IGRA was negative.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["hbv_screening"], never_fires=["tb_screening"])
    n = "out-recent-negative-igra-hbsag-anti-hbc-no-card"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening()),
         description="A first TNF inhibitor with IGRA, HBsAg and anti-HBc negative two months ago and two NSAIDs "
                     "tried: nothing is actionable, so no card at all.",
         source=src, **silent())
    n = "out-latent-tb-naproxen-ordered-no-screening-card"
    case(f, n, as_patient(f, n, "naproxen", extra_conditions=[cond("c-ltbi", "latent-tb", onset="2026-08-20")]),
         description="Latent TB does not matter for an NSAID order (naproxen): no card.",
         source="relevance", **silent())


def build_latent_tb() -> None:
    f = "infection-latent-tb"
    src = "FDA labels (TNFi, IL-17i, Xeljanz: treat latent TB before starting; Rinvoq: consider treatment)"
    n = "in-latent-tb-z22-7-untreated-adalimumab-warns-treat-first"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-ltbi", "latent-tb", onset="2026-08-20")]),
         description="Latent TB (Z22.7) with no TB treatment on record when adalimumab is ordered: a warning to "
                     "treat latent TB before the biologic (not a screening reminder, not critical).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["latent_tb_untreated"],
         never_fires=["tb_screening", "active_tb_hold"])
    n = "in-positive-igra-untreated-upadacitinib-after-tnfi-warns"
    case(f, n, as_patient(f, n, "upadacitinib", history=[ADA_PNR()], observations=[
        obs("o-igra", "igra", "positive", when="2026-10-05"), obs("o-hbsag", "hbsag", "negative"),
        obs("o-antihbc", "anti-hbc", "negative")]),
         description="A positive IGRA (LOINC 71773-6) with no TB treatment, upadacitinib ordered after adalimumab "
                     "failed: a warning to treat latent TB first.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["latent_tb_untreated"])
    n = "out-latent-tb-treated-with-isoniazid-no-warning"
    case(f, n, as_patient(f, n, "adalimumab", history=[ms("ms-inh", "isoniazid", "2025-09-01", "2026-06-01")],
                          extra_conditions=[cond("c-ltbi", "latent-tb", onset="2025-08-20")],
                          observations=negative_screening()[1:]),
         description="Latent TB with 9 months of isoniazid on record: no latent-TB warning (the card, if any, says "
                     "to monitor for active TB).",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["latent_tb_untreated"])


def build_hbv() -> None:
    f = "infection-hepatitis-b"
    src = "TNFi labels (HBV reactivation); ACR 2021 RA guideline (prophylaxis / monitoring, extrapolated)"
    n = "in-chronic-hepatitis-b-etanercept-warns"
    case(f, n, as_patient(f, n, "etanercept", extra_conditions=[cond("c-hbv", "hbv", onset="2014-05-05")]),
         description="Chronic hepatitis B on record when etanercept is ordered: a warning (reactivation risk, "
                     "antiviral prophylaxis with hepatology first).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hbv_chronic"])
    n = "in-hbsag-positive-observation-secukinumab-warns"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], observations=[
        obs("o-igra", "igra", "negative"), obs("o-hbsag", "hbsag", "positive", when="2026-10-01")]),
         description="An HBsAg-positive result (LOINC 5196-1) when secukinumab is ordered: a hepatitis B warning.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["hbv_chronic"])
    n = "in-anti-hbc-positive-hbsag-negative-adalimumab-caution-to-monitor"
    case(f, n, as_patient(f, n, "adalimumab", observations=[
        obs("o-igra", "igra", "negative"), obs("o-hbsag", "hbsag", "negative"),
        obs("o-antihbc", "anti-hbc", "positive")]),
         description="Anti-HBc positive with HBsAg negative (past infection): an informational caution to monitor "
                     "for reactivation, not a warning.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["hbv_past_infection"],
         never_fires=["hbv_chronic"])
    n = "out-hbsag-and-anti-hbc-negative-no-hepatitis-b-card"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening()),
         description="HBsAg and anti-HBc negative within 12 months: no hepatitis B card of any kind.",
         source=src, **silent(never_fires=["hbv_chronic", "hbv_past_infection", "hbv_screening"]))


def build_hcv() -> None:
    f = "infection-hepatitis-c"
    src = "clinical reasoning (no label or guideline statement found); Rinvoq label (screen for viral hepatitis)"
    n = "in-chronic-hepatitis-c-adalimumab-caution"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-hcv", "hcv", onset="2018-02-01")],
                          observations=negative_screening()),
         description="Chronic hepatitis C (B18.2) when adalimumab is ordered: an informational caution to check "
                     "HCV RNA and liver tests with hepatology.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["hepatitis_c_caution"])
    n = "out-hepatitis-c-antibody-negative-screen-no-caution"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(), extra_conditions=[
        b.condition("c-hcv", patient=PT, text="Hepatitis C antibody screen negative", full=True)]),
         description="A problem-list entry 'Hepatitis C antibody screen negative' is no hepatitis C: no caution.",
         source=src, **silent(never_fires=["hepatitis_c_caution"]))


def build_active_infection() -> None:
    f = "infection-active-serious"
    src = "FDA labels (TNFi: do not start during an active infection; Rinvoq: avoid with an active serious infection)"
    n = "in-active-sepsis-adalimumab-ordered-critical-hold"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[cond("c-sepsis", "sepsis", onset="2026-11-19")]),
         description="Sepsis recorded as active (A41.9) when adalimumab is ordered: a critical hold card, nothing "
                     "suggested.",
         source=src, cards={"min": 1, "max": 1}, indicator="critical", fires=["active_infection_hold"],
         never_suggests=BIOLOGICS + JAKI)
    n = "in-active-pneumonia-upadacitinib-after-tnfi-critical-hold"
    case(f, n, as_patient(f, n, "upadacitinib", history=[ADA_PNR()],
                          extra_conditions=[cond("c-pna", "pneumonia", onset="2026-11-18")]),
         description="Active pneumonia (J18.9) when upadacitinib is ordered: hold (critical), no JAK inhibitor or "
                     "biologic suggested until the infection is controlled.",
         source=src, cards={"min": 1, "max": 1}, indicator="critical", fires=["active_infection_hold"],
         never_suggests=BIOLOGICS + JAKI)
    n = "out-sepsis-resolved-in-2019-no-hold"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(), extra_conditions=[
        cond("c-sepsis", "sepsis", clinical="resolved", onset="2019-02-01", abatement="2019-02-20")]),
         description="Sepsis resolved in 2019: no hold and no recent-infection warning.",
         source=src, **silent(never_fires=["active_infection_hold", "recent_serious_infection"]))


def build_recent_infection() -> None:
    f = "infection-recent-serious"
    src = ("FDA labels (discontinue with serious infection; resume once controlled); ACR 2021 RA (serious infection "
           "within 12 months, extrapolated)")
    n = "in-pneumonia-resolved-three-months-ago-adalimumab-warns"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(), extra_conditions=[
        cond("c-pna", "pneumonia", clinical="resolved", onset="2026-08-02", abatement="2026-08-20")]),
         description="Pneumonia resolved in August 2026 when adalimumab is ordered: a warning that surfaces the "
                     "recent serious infection (starting is the clinician's decision).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["recent_serious_infection"])
    n = "in-adalimumab-stopped-for-sepsis-reordered-surfaces-it-not-a-failure"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(), history=[
        ms("ms-ada", "adalimumab", "2024-03-04", "2026-09-10",
           reason="Stopped: admitted to hospital with pneumococcal sepsis")]),
         description="Adalimumab stopped for sepsis in September 2026 and ordered again: a warning that surfaces the "
                     "infection and leaves restarting to the clinician; the drug is not 'failed' and not blocked.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["recent_serious_infection"],
         never_fires=["never_failed_molecule", "no_biosimilar_of_failed_tnfi", "never_allergen"])
    n = "out-adalimumab-held-for-a-minor-infection-no-warning"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(), history=[
        ms("ms-ada", "adalimumab", "2024-03-04", "2026-09-10", reason="Held for a minor upper respiratory infection")]),
         description="Adalimumab held for a minor infection and ordered again: nothing to warn about.",
         source=src, **silent(never_fires=["recent_serious_infection"]))


def build_malignancy() -> None:
    f = "malignancy"
    src = "TNFi and JAKi labels (known malignancy other than treated NMSC)"
    lymphoma = lambda: cond("c-lym", "lymphoma", clinical="resolved", onset="2019-01-10", abatement="2019-09-30")  # noqa: E731
    n = "in-lymphoma-history-adalimumab-caution"
    case(f, n, as_patient(f, n, "adalimumab", extra_conditions=[lymphoma()], observations=negative_screening()),
         description="A treated lymphoma (Z85.72) when adalimumab is ordered: an informational caution to weigh the "
                     "TNF inhibitor's malignancy risk with oncology.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["malignancy_caution"])
    n = "out-lymphoma-history-secukinumab-no-malignancy-caution"
    case(f, n, as_patient(f, n, "secukinumab", extra_conditions=[lymphoma()], observations=negative_screening()),
         description="The same history with secukinumab: the TNFi/JAKi malignancy caution does not apply.",
         source=src, **silent(never_fires=["malignancy_caution"]))


# ---- JAK inhibitors ---------------------------------------------------------------------------------------
def build_boxed() -> None:
    f = "jak-boxed-warning"
    src = "FDA JAKi boxed warning; EMA 2022 Article 20 review"
    hist = lambda: [ADA_LOST(), ms("ms-sec", "secukinumab", "2025-10-06", "2026-04-06",  # noqa: E731
                                   reason="Not effective after 6 months")]
    n = "in-68-year-old-smoker-upadacitinib-warns-boxed-warning"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1958-05-10", history=hist(),
                          extra_conditions=[cond("c-smoke", "smoker", onset="1978-01-01")]),
         description="Upadacitinib for a 68-year-old current smoker warns about the JAK inhibitor boxed warning "
                     "(MACE, thrombosis, malignancy, mortality) and offers no JAK inhibitor.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_boxed_warning"],
         never_suggests=JAKI)
    n = "in-61-year-old-prior-vte-tofacitinib-warns-boxed-warning"
    case(f, n, as_patient(f, n, "tofacitinib", birth="1965-02-14", gender="female", history=hist(),
                          extra_conditions=[cond("c-vte", "vte-history", onset="2021-04-03")]),
         description="Tofacitinib for a 61-year-old with a prior deep vein thrombosis warns about the JAK "
                     "inhibitor boxed warning (thrombosis).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_boxed_warning"], never_suggests=JAKI)
    n = "in-69-year-old-prior-lymphoma-upadacitinib-is-not-replaced-by-a-jak"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1957-05-01", history=[ADA_PNR()], extra_conditions=[
        cond("c-lym", "lymphoma", clinical="resolved", onset="2019-01-10", abatement="2019-09-30")]),
         description="Upadacitinib for a 69-year-old with a treated lymphoma after adalimumab failed: the boxed "
                     "warning is the conflict, and the options are non-JAK (never upadacitinib itself or "
                     "tofacitinib).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_boxed_warning"],
         recommended_any_of=IL17, never_suggests=JAKI)
    n = "in-former-smoker-observation-55-year-old-upadacitinib-warns"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1971-01-20", history=[ADA_PNR()], observations=[
        obs("o-smoking", "smoking", "former smoker", when="2026-06-01")]),
         description="A smoking-status Observation (LOINC 72166-2) 'former smoker' is a JAK boxed-warning risk "
                     "factor: warning, non-JAK options.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_boxed_warning"],
         never_suggests=JAKI)
    n = "out-38-year-old-without-risk-factors-upadacitinib-no-boxed-warning-alert"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1988-06-30", history=hist()),
         description="Upadacitinib after TNFi and IL-17i failure for a 38-year-old without smoking, CV or VTE "
                     "history raises no boxed-warning conflict (the risk factors are said as 'none recorded').",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["jak_boxed_warning"])
    n = "out-never-smoker-observation-45-year-old-upadacitinib-no-boxed-warning-alert"
    case(f, n, as_patient(f, n, "upadacitinib", birth="1981-02-02", history=[ADA_PNR()], observations=[
        obs("o-smoking", "smoking", "never smoker", when="2026-06-01"), *negative_screening()]),
         description="A never smoker aged 45 with no other risk factor: upadacitinib after adalimumab failure raises "
                     "no boxed-warning conflict and no card.",
         source=src, **silent(never_fires=["jak_boxed_warning"]))


def build_jak_label() -> None:
    f = "jak-label-sequencing"
    src = "FDA labels (Rinvoq, Xeljanz: after inadequate response or intolerance to one or more TNF blockers)"
    n = "in-upadacitinib-after-il17-failure-only-label-not-met"
    case(f, n, as_patient(f, n, "upadacitinib", history=[
        ms("ms-sec", "secukinumab", "2025-01-06", "2025-07-07", reason="No improvement after 6 months")]),
         description="Upadacitinib after an IL-17 inhibitor failed but no TNF blocker: the US label's TNF-blocker "
                     "condition is not met; a TNF inhibitor is suggested first.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_after_tnfi_label"],
         recommended_any_of=TNF_MAB, never_suggests=JAKI)
    n = "in-upadacitinib-after-tnfi-stopped-for-cost-label-not-met"
    case(f, n, as_patient(f, n, "upadacitinib", history=[
        ms("ms-ada", "adalimumab", "2024-01-08", "2025-02-03", reason="Insurance denied renewal; too expensive")]),
         description="Upadacitinib after adalimumab stopped for cost: a cost stop is no inadequate response or "
                     "intolerance, so the label is not met.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_after_tnfi_label"],
         never_suggests=JAKI)
    n = "in-upadacitinib-while-adalimumab-ongoing-without-documented-failure"
    case(f, n, as_patient(f, n, "upadacitinib", history=[ms("ms-ada", "adalimumab", "2025-01-06", None)]),
         description="Upadacitinib while adalimumab is ongoing with no documented inadequate response: the card "
                     "says what the record shows (ongoing, no failure documented).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["jak_after_tnfi_label"])
    n = "out-upadacitinib-after-etanercept-intolerance-label-met"
    case(f, n, as_patient(f, n, "upadacitinib", history=[ETN_ISR()], observations=negative_screening()),
         description="Upadacitinib after etanercept was not tolerated (injection-site reaction): intolerance meets "
                     "the label; no label card.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["jak_after_tnfi_label"])


def build_nr() -> None:
    f = "nr-axspa-on-label"
    src = "FDA labels (nr-axSpA: certolizumab, secukinumab, ixekizumab, bimekizumab, upadacitinib)"
    n = "in-nr-axspa-adalimumab-ordered-suggests-on-label-only"
    case(f, n, as_patient(f, n, "adalimumab", as_key="nr-axspa", gender="female", birth="1993-09-09"),
         description="Adalimumab (not FDA-approved for nr-axSpA, M45.A6) ordered for nr-axSpA: a card suggests only "
                     "on-label options such as certolizumab or an IL-17 inhibitor.",
         source=src, cards={"min": 1, "max": 1}, fires=["nraxspa_on_label"], suggests_any_of=["certolizumab"] + IL17,
         never_suggests=NR_AXSPA_OFF_LABEL)
    n = "in-nr-axspa-certolizumab-primary-nonresponse-golimumab-ordered-suggests-il17"
    case(f, n, as_patient(f, n, "golimumab", as_key="nr-axspa", gender="female", birth="1993-09-09", history=[
        ms("ms-czp", "certolizumab pegol", "2025-05-05", "2025-11-03",
           reason="Not effective: no clinical improvement after 6 months")]),
         description="nr-axSpA with certolizumab primary non-response and golimumab ordered: suggestions are "
                     "on-label IL-17 inhibitors, never adalimumab/etanercept/infliximab/golimumab.",
         source=src + "; ACR 2019 #63", cards={"min": 1, "max": 1}, fires=["nraxspa_on_label"],
         recommended_any_of=IL17, never_suggests=NR_AXSPA_OFF_LABEL + ["certolizumab"])
    n = "out-nr-axspa-certolizumab-ordered-on-label-no-warning"
    case(f, n, as_patient(f, n, "certolizumab pegol", as_key="nr-axspa", gender="female", birth="1993-09-09"),
         description="Certolizumab, FDA-approved for nr-axSpA, ordered as first biologic: no warning.",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["nraxspa_on_label"],
         never_suggests=NR_AXSPA_OFF_LABEL)


def build_allergy() -> None:
    f = "allergy"
    src = "Patient record (AllergyIntolerance); ACR 2019 #13"
    czp_ana = lambda: allergy("ai-czp", "certolizumab pegol", "Anaphylaxis (hypotension, urticaria, wheeze) within "  # noqa: E731
                              "30 minutes of first dose", text="Cimzia (certolizumab pegol)")
    n = "in-anaphylaxis-to-certolizumab-never-suggested-after-adalimumab-lost-response"
    case(f, n, as_patient(f, n, "adalimumab", history=[ADA_LOST()], allergies=[czp_ana()]),
         description="A patient with anaphylaxis to certolizumab who lost response to adalimumab: the card "
                     "recommends a different TNFi but never certolizumab (nor adalimumab).",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_biosimilar_of_failed_tnfi"],
         recommended_any_of=["etanercept", "infliximab", "golimumab"], never_suggests=["certolizumab", "adalimumab"])
    n = "in-certolizumab-ordered-despite-anaphylaxis-warns"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_LOST()], allergies=[czp_ana()]),
         description="Ordering certolizumab for a patient with recorded anaphylaxis to it warns and never "
                     "suggests it.",
         source=src, cards={"min": 1, "max": 1}, indicator=["warning", "critical"], fires=["never_allergen"],
         never_suggests=["certolizumab", "adalimumab"])
    n = "out-penicillin-allergy-does-not-affect-secukinumab-after-primary-nonresponse"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], allergies=[
        allergy("ai-pen", None, "Hives", code="7980", display="penicillin G", text="Penicillin",
                criticality="low", severity="moderate")]),
         description="An unrelated penicillin allergy does not affect secukinumab after adalimumab primary "
                     "non-response: no warning.",
         source="relevance", cards={"min": 0, "max": 1}, **AT_MOST_INFO, never_fires=["never_allergen"])


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
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_csdmard_axial"],
         suggests_any_of=BIOLOGICS, never_suggests=["methotrexate", "sulfasalazine", "adalimumab"])
    n = "in-sulfasalazine-added-to-failing-etanercept-axial-disease-warns"
    case(f, n, as_patient(f, n, "sulfasalazine", history=[failing_etn()]),
         description="Sulfasalazine added to etanercept for purely axial disease warns and suggests a new "
                     "biologic.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_csdmard_axial"],
         suggests_any_of=BIOLOGICS, never_suggests=["methotrexate", "sulfasalazine", "etanercept"])
    n = "out-sulfasalazine-for-peripheral-arthritis-without-tnfi-no-warning"
    case(f, n, as_patient(f, n, "sulfasalazine", extra_conditions=[cond("c-parth", "peripheral-arthritis",
                                                                        onset="2026-05-01")]),
         description="Sulfasalazine for prominent peripheral arthritis in a patient not on a TNFi is allowed by "
                     "ACR #4: no #15 warning.",
         source="ACR 2019 #4 (conditional)", **silent(never_fires=["no_csdmard_axial"]))


def build_acr16() -> None:
    f = "acr-16-systemic-glucocorticoid"
    src = "ACR 2019 #16 (strong); ASAS-EULAR 2022 #7"
    n = "in-prednisone-ordered-for-axial-flare-warns"
    case(f, n, as_patient(f, n, "prednisone", history=[ms("ms-ada", "adalimumab", "2023-01-09", None)]),
         description="Oral prednisone ordered for an axial flare while on adalimumab warns (systemic "
                     "glucocorticoids are strongly recommended against) and says to reassess the biologic.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["no_systemic_glucocorticoids"],
         never_suggests=["prednisone"])
    n = "out-sacroiliac-triamcinolone-injection-is-local-not-systemic"
    case(f, n, as_patient(f, n, "triamcinolone acetonide", history=[ms("ms-ada", "adalimumab", "2023-01-09", None)]),
         description="An image-guided triamcinolone injection into a sacroiliac joint is a local glucocorticoid "
                     "(ACR #17), not systemic: no card.",
         source="ACR 2019 #17 (conditional)", **silent(never_fires=["no_systemic_glucocorticoids"]))


def build_silent() -> None:
    f = "silent"
    src = "relevance"
    n = "in-as-coded-only-icd10-m45-5-is-recognised-and-fires"
    case(f, n, as_patient(f, n, "adalimumab", as_key="as-thoracolumbar-icd", history=[ADA_PNR()]),
         description="Contrast case: AS coded only as ICD-10-CM M45.5 (thoracolumbar) is recognised, so re-ordering "
                     "the adalimumab that failed is not silent.",
         source=src + "; ACR 2019 #12, #14", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], recommended_any_of=IL17, never_suggests=TNFI)
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
        return request(f"{f}/{n}", p, [draft(generic)], statements=nsaids(),
                       conditions=[cond("c-main", key, onset="2015-02-01")], gender="female", birth="1979-12-12")

    n = "out-rheumatoid-arthritis-only-adalimumab-no-cards"
    case(f, n, non_axspa(n, "ra", "adalimumab"),
         description="Adalimumab for a patient with rheumatoid arthritis and no axSpA diagnosis: no cards.",
         source=src, **silent())
    n = "out-psoriasis-only-adalimumab-no-cards"
    case(f, n, non_axspa(n, "psoriasis", "adalimumab"),
         description="Adalimumab for a patient with psoriasis only (no axSpA diagnosis): no cards.",
         source=src, **silent())
    for status in ("refuted", "entered-in-error"):
        n = f"out-{status}-as-condition-adalimumab-no-cards"
        p = pid(f, n)
        c = cond("c-as", "as", verification=status)
        if status == "entered-in-error":
            c.pop("clinicalStatus")  # R4 con-5: no clinicalStatus when entered-in-error
        req = request(f"{f}/{n}", p, [draft("adalimumab")], statements=nsaids(), conditions=[c], birth="1990-01-01")
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
         source="ACR 2019 #12", cards={"min": 1, "max": 1}, fires=["tnfi_primary_nonresponse_il17"],
         recommended_any_of=IL17, never_suggests=TNFI)
    n = "in-missing-dates-adalimumab-not-effective-reordered-warns-and-says-duration-unknown"
    case(f, n, as_patient(f, n, "adalimumab", history=[
        ms("ms-ada", "adalimumab", None, None, status="stopped", reason="Not effective")]),
         description="Adalimumab recorded as stopped for ineffectiveness without any dates is re-ordered: warn, "
                     "and say that the duration (primary vs secondary non-response) could not be told.",
         source="ACR 2019 Table 1; #12/#13", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], never_suggests=["adalimumab"],
         text_mentions=[["no start date", "trial length could not be judged"]])
    n = "in-duplicate-statement-and-request-for-same-adalimumab-course-counted-once"
    case(f, n, as_patient(f, n, "certolizumab pegol", history=[ADA_PNR()], requests=[
        mr("mr-ada", "adalimumab", "2025-01-06", "2025-07-07", reason="Discontinued: not effective")]),
         description="The same adalimumab course recorded as a MedicationStatement and a MedicationRequest is one "
                     "course (first TNFi, primary non-response): IL-17 inhibitor recommended.",
         source="ACR 2019 #12", cards={"min": 1, "max": 1}, fires=["tnfi_primary_nonresponse_il17"],
         recommended_any_of=IL17, never_suggests=TNFI)
    n = "in-unknown-rxnorm-code-among-history-still-suggests-il17"
    case(f, n, as_patient(f, n, "golimumab", history=[
        ADA_PNR(), ms("ms-unk", "adalimumab", "2024-03-01", "2024-09-01", code="99999999", text="Study drug XR-221",
                      reason="Trial ended")]),
         description="An unidentifiable RxNorm code (a study drug) in the history does not stop the primary "
                     "non-response rule; the card says one medication could not be identified.",
         source="ACR 2019 #12", cards={"min": 1, "max": 1}, fires=["tnfi_primary_nonresponse_il17"],
         recommended_any_of=IL17, never_suggests=TNFI, text_mentions=["XR-221"])
    n = "in-one-malformed-condition-among-good-resources-still-warns"
    req = as_patient(f, n, "adalimumab", history=[ADA_PNR()])
    bad = {"resourceType": "Condition", "id": "c-bad", "subject": {"reference": f"Patient/{pid(f, n)}"},
           "code": "M45.9", "clinicalStatus": "active", "onsetDateTime": "last spring"}
    req["prefetch"]["conditions"]["entry"].append({"fullUrl": f"{b.FHIR_SERVER}/Condition/c-bad", "resource": bad,
                                                   "search": {"mode": "match"}})
    req["prefetch"]["conditions"]["total"] += 1
    case(f, n, req, malformed=True,
         description="One malformed Condition (code given as a bare string) among valid resources: the service "
                     "still warns about re-ordering the adalimumab that failed, and never crashes.",
         source="ACR 2019 #12, #14", cards={"min": 1, "max": 1}, indicator="warning",
         fires=["no_biosimilar_of_failed_tnfi"], recommended_any_of=IL17, never_suggests=TNFI)
    n = "out-malformed-medicationstatement-with-atorvastatin-order-stays-silent"
    req = as_patient(f, n, "atorvastatin")
    req["prefetch"]["medicationStatements"]["entry"].append({
        "fullUrl": f"{b.FHIR_SERVER}/MedicationStatement/ms-bad", "search": {"mode": "match"},
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
         cards={"min": 0, "max": 1}, never_fires=["tnfi_primary_nonresponse_il17", "no_biosimilar_of_failed_tnfi"],
         text_never_mentions=["primary non-response to adalimumab", "primary nonresponse to adalimumab"])
    n = "in-adalimumab-stopped-after-16-weeks-not-effective-is-primary-nonresponse"
    case(f, n, as_patient(f, n, "etanercept", history=[
        ms("ms-ada", "adalimumab", "2025-03-03", "2025-06-23", reason="Not effective")]),
         description="Contrast case: adalimumab stopped after 16 weeks as not effective is primary non-response, "
                     "so ordering etanercept prompts an IL-17 recommendation.",
         source="ACR 2019 #12; Table 1 (3-6 months)", cards={"min": 1, "max": 1},
         fires=["tnfi_primary_nonresponse_il17"], recommended_any_of=IL17, never_suggests=TNFI)
    n = "in-medicationrequest-only-history-primary-nonresponse-suggests-il17"
    p = pid(f, n)
    req = request(f"{f}/{n}", p, [draft("golimumab")], statements=[],
                  requests=[mr("mr-npx", "naproxen", "2019-02-01", "2019-05-15", reason="Insufficient relief"),
                            mr("mr-cel", "celecoxib", "2019-05-20", None),
                            mr("mr-ada", "adalimumab", "2025-01-06", "2025-07-07",
                               reason="Discontinued: no response after 6 months")],
                  conditions=[cond("c-axspa", "as")])
    case(f, n, req,
         description="A history held only as MedicationRequests (no MedicationStatement, as in many EHRs) is read: "
                     "adalimumab primary non-response, golimumab ordered, IL-17 inhibitor recommended.",
         source="ACR 2019 #12", cards={"min": 1, "max": 1}, fires=["tnfi_primary_nonresponse_il17"],
         recommended_any_of=IL17, never_suggests=TNFI)


def build_il17_failure() -> None:
    f = "il17i-failure"
    src = "record-based safety rule (a failed molecule); ASAS-EULAR 2022 #12 (after an IL-17i: a TNFi or a JAKi)"
    sec = lambda: ms("ms-sec", "secukinumab", "2025-01-06", "2025-07-07",  # noqa: E731
                     reason="No meaningful improvement in BASDAI after 6 months")
    n = "in-secukinumab-no-response-reordered-warns-suggests-tnfi"
    case(f, n, as_patient(f, n, "secukinumab", history=[sec()]),
         description="Re-ordering the secukinumab that produced no response warns (the molecule failed) and "
                     "recommends a TNF inhibitor.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["never_failed_molecule"],
         recommended_any_of=TNFI, never_suggests=["secukinumab"], deletes_selection=True)
    n = "out-secukinumab-no-response-adalimumab-ordered-concordant"
    case(f, n, as_patient(f, n, "adalimumab", history=[sec()], observations=negative_screening()),
         description="Adalimumab after secukinumab failed is the recommended switch: no card.",
         source=src, **silent(never_fires=["never_failed_molecule"]))


def build_one_at_a_time() -> None:
    f = "one-bdmard-at-a-time"
    src = "FDA labels (JAK inhibitors and TNF inhibitors: not with other biologics)"
    n = "in-secukinumab-ordered-while-adalimumab-still-active-says-stop-it"
    case(f, n, as_patient(f, n, "secukinumab", history=[ms("ms-ada", "adalimumab", "2025-01-06", None)],
                          observations=negative_screening()),
         description="Secukinumab ordered while adalimumab is still active in the record: an informational card to "
                     "stop adalimumab when switching (no combination of b/tsDMARDs).",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["no_combined_advanced"])
    n = "out-secukinumab-ordered-after-adalimumab-stopped-no-card"
    case(f, n, as_patient(f, n, "secukinumab", history=[ADA_PNR()], observations=negative_screening()),
         description="Secukinumab after adalimumab was stopped: nothing to combine, no card.",
         source=src, **silent(never_fires=["no_combined_advanced"]))


def build_non_recommended() -> None:
    f = "non-recommended-biologic"
    src = "ACR 2019 narrative (rituximab, abatacept, ustekinumab, IL-6 inhibitors not recommended)"
    n = "in-ustekinumab-ordered-for-axspa-warns-suggests-tnfi-or-il17"
    case(f, n, as_patient(f, n, "ustekinumab", order_kw={"coded": False}),
         description="Ustekinumab (not effective in axSpA) ordered: a warning with a TNF or IL-17 inhibitor "
                     "offered instead.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["non_recommended_biologic"],
         suggests_any_of=BIOLOGICS, never_suggests=["ustekinumab"])
    n = "out-ixekizumab-ordered-is-an-axspa-biologic"
    case(f, n, as_patient(f, n, "ixekizumab", observations=negative_screening()),
         description="Ixekizumab is an axSpA biologic: no 'not recommended' card.",
         source=src, **silent(never_fires=["non_recommended_biologic"]))


# ---- pregnancy, planned pregnancy, breastfeeding ------------------------------------------------------------
def female(folder: str, name: str, order: str, **kw: Any) -> dict:
    kw.setdefault("birth", "1993-04-11")
    return as_patient(folder, name, order, gender="female", **kw)


def build_pregnancy() -> None:
    f = "pregnancy"
    src = "ACR 2020 reproductive health (Sammaritano 2020); Rinvoq label (embryo-fetal toxicity)"
    pregnant = lambda: cond("c-preg", "pregnant", onset="2026-09-01", recorded="2026-09-20")  # noqa: E731
    n = "in-secukinumab-ordered-pregnant-warns-recommends-certolizumab"
    case(f, n, female(f, n, "secukinumab", extra_conditions=[pregnant()]),
         description="Secukinumab ordered for a pregnant patient (Condition Z33.1 / SNOMED 77386006): a warning "
                     "(IL-17 inhibitors are stopped once pregnant), certolizumab pegol recommended, no IL-17 or JAK "
                     "inhibitor offered.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["pregnancy_no_il17"],
         recommended_any_of=["certolizumab"], never_suggests=IL17 + JAKI, deletes_selection=True)
    n = "in-upadacitinib-pregnancy-status-observation-pregnant-warns"
    case(f, n, female(f, n, "upadacitinib", history=[ADA_PNR()], observations=[
        obs("o-preg", "pregnancy", "pregnant", when="2026-11-10")]),
         description="A pregnancy-status Observation (LOINC 82810-3) whose value is 'Pregnant' when upadacitinib is "
                     "ordered: a warning, no JAK or IL-17 inhibitor offered.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["pregnancy_no_jak"],
         never_suggests=IL17 + JAKI)
    n = "in-methotrexate-ordered-pregnant-critical"
    case(f, n, female(f, n, "methotrexate", extra_conditions=[pregnant()]),
         description="Methotrexate ordered for a pregnant patient: critical (contraindicated teratogen), never 'no "
                     "conflict', no biologic pushed in its place.",
         source=src, cards={"min": 1, "max": 1}, indicator="critical", fires=["pregnancy_no_mtx_leflunomide"])
    n = "in-adalimumab-ordered-pregnant-advises-certolizumab"
    case(f, n, female(f, n, "adalimumab", extra_conditions=[pregnant()], observations=negative_screening()),
         description="Adalimumab ordered in pregnancy is conditionally acceptable: an informational card offering "
                     "certolizumab pegol (strongly recommended in pregnancy) as the recommended option.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["pregnancy_tnfi_conditional"],
         recommended_any_of=["certolizumab"])
    n = "in-etanercept-stopped-for-pregnancy-two-months-ago-secukinumab-warns"
    case(f, n, female(f, n, "secukinumab", history=[
        ms("ms-etn", "etanercept", "2025-01-13", "2026-09-28", reason="Stopped: patient is pregnant")]),
         description="A course stopped for pregnancy two months ago, with no pregnancy status recorded since: read as "
                     "a possible pregnancy to confirm; secukinumab gets the pregnancy warning.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["pregnancy_no_il17"],
         never_suggests=IL17 + JAKI)
    n = "out-pregnancy-status-not-pregnant-secukinumab-no-pregnancy-warning"
    case(f, n, female(f, n, "secukinumab", history=[ADA_PNR()], observations=[
        obs("o-preg", "pregnancy", "not pregnant", when="2026-11-10"), *negative_screening()]),
         description="The pregnancy-status Observation is present but its value is 'Not pregnant': no pregnancy "
                     "rule applies (the value counts, not the code).",
         source=src, **silent(never_fires=["pregnancy_no_il17", "pregnancy_no_jak"]))
    n = "out-methotrexate-pregnancy-status-not-pregnant-no-pregnancy-block"
    case(f, n, female(f, n, "methotrexate", observations=[obs("o-preg", "pregnancy", "not pregnant", when="2026-11-10")],
                      extra_conditions=[cond("c-parth", "peripheral-arthritis", onset="2026-05-01")]),
         description="Methotrexate for peripheral arthritis in a patient whose pregnancy status is 'Not pregnant': "
                     "no pregnancy block (the methotrexate label's own contraception advice is the prescriber's).",
         source=src, cards={"min": 0, "max": 1}, never_fires=["pregnancy_no_mtx_leflunomide"])
    n = "out-certolizumab-ordered-pregnant-no-pregnancy-conflict"
    case(f, n, female(f, n, "certolizumab pegol", extra_conditions=[pregnant()], observations=negative_screening(),
                      nsaid_history=TWO_NSAIDS_NON_SELECTIVE()),
         description="Certolizumab pegol in pregnancy is the strongly recommended TNF inhibitor: no pregnancy "
                     "conflict (the card, if any, is the NSAID advice).",
         source=src, cards={"min": 0, "max": 1}, **AT_MOST_INFO,
         never_fires=["pregnancy_tnfi_conditional", "pregnancy_no_il17", "pregnancy_no_jak"])


def build_pregnancy_nsaid() -> None:
    f = "pregnancy-nsaid-gestation"
    src = "FDA Drug Safety Communication 2020 (NSAIDs from 20 weeks); ACR 2020 (NSAIDs in pregnancy)"
    n = "in-24-weeks-celecoxib-ongoing-certolizumab-ordered-warns-stop-nsaid"
    case(f, n, female(f, n, "certolizumab pegol", observations=negative_screening(), extra_conditions=[
        cond("c-preg", "pregnant-24-weeks", onset=None, recorded="2026-11-20")]),
         description="At 24 weeks (Z3A.24, recorded four days ago) with celecoxib ongoing: a warning to stop the "
                     "NSAID (avoided from 20 weeks), and no 'continue the NSAID' advice.",
         source=src, cards={"min": 1, "max": 1}, indicator="warning", fires=["pregnancy_nsaid_by_gestation"],
         text_never_mentions=["Continue celecoxib"])
    n = "in-gestational-age-not-recorded-celecoxib-ongoing-says-so"
    case(f, n, female(f, n, "certolizumab pegol", observations=negative_screening(), extra_conditions=[
        cond("c-preg", "pregnant", onset="2026-10-01")]),
         description="Pregnant with celecoxib ongoing and no gestational age on record: the card says the "
                     "gestational age is not recorded and that no NSAID is used from 20 weeks.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["pregnancy_nsaid_by_gestation"],
         text_mentions=["gestational age is not recorded"])
    n = "out-12-weeks-naproxen-certolizumab-no-nsaid-card"
    case(f, n, female(f, n, "certolizumab pegol", observations=negative_screening(),
                      nsaid_history=TWO_NSAIDS_NON_SELECTIVE(), extra_conditions=[
                          cond("c-preg", "pregnant-12-weeks", onset=None, recorded="2026-11-20")]),
         description="At 12 weeks with naproxen (non-selective) ongoing and certolizumab ordered: nothing to act on, "
                     "no card.",
         source=src, **silent(never_fires=["pregnancy_nsaid_by_gestation"]))


def build_planned() -> None:
    f = "pregnancy-planned"
    src = "ACR 2020 reproductive health (planned pregnancy); Rinvoq label (contraception); EULAR 2016"
    planned = lambda: cond("c-plan", "planned-pregnancy", onset="2026-10-01")  # noqa: E731
    n = "in-planning-pregnancy-upadacitinib-advises-stopping-jak-first"
    case(f, n, female(f, n, "upadacitinib", history=[ADA_PNR()], extra_conditions=[planned()]),
         description="A patient planning a pregnancy is ordered upadacitinib: advice (not a block) that JAK "
                     "inhibitors are stopped before trying to conceive; no JAK inhibitor among the options.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["planned_pregnancy_advice"],
         never_suggests=JAKI)
    n = "out-planning-pregnancy-certolizumab-no-planned-pregnancy-card"
    case(f, n, female(f, n, "certolizumab pegol", extra_conditions=[planned()], observations=negative_screening()),
         description="Certolizumab for a patient planning a pregnancy continues before and during pregnancy: no "
                     "card.",
         source=src, **silent(never_fires=["planned_pregnancy_advice"]))


def build_lactation() -> None:
    f = "lactation"
    src = "ACR 2020 reproductive health (breastfeeding); Rinvoq label (not recommended while breastfeeding)"
    lactating = lambda: cond("c-bf", "breastfeeding", onset="2026-08-15")  # noqa: E731
    n = "in-breastfeeding-upadacitinib-advises-tnf-inhibitor"
    case(f, n, female(f, n, "upadacitinib", history=[ADA_PNR()], extra_conditions=[lactating()]),
         description="A breastfeeding patient is ordered upadacitinib: advice that JAK inhibitors are not "
                     "recommended while breastfeeding; no JAK inhibitor offered.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["lactation_advice"], never_suggests=JAKI)
    n = "out-breastfeeding-adalimumab-compatible-no-card"
    case(f, n, female(f, n, "adalimumab", extra_conditions=[lactating()], observations=negative_screening()),
         description="Adalimumab while breastfeeding is compatible (strong): no card.",
         source=src, **silent(never_fires=["lactation_advice"]))


def build_nsaid_trial() -> None:
    f = "first-bdmard-nsaid-trial"
    src = "ACR 2019 narrative (adequate NSAID trial); ASAS-EULAR 2022 #9 (wording unverified)"
    n = "in-first-biologic-with-only-one-nsaid-on-record-advises"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening(),
                          nsaid_history=[ms("ms-cel", "celecoxib", "2026-06-01", None)]),
         description="A first b/tsDMARD with only one NSAID on record: advice (not a block) that an adequate trial "
                     "is two NSAIDs at maximal doses.",
         source=src, cards={"min": 1, "max": 1}, indicator="info", fires=["first_bdmard_nsaid_trial"])
    n = "out-first-biologic-after-two-nsaids-no-card"
    case(f, n, as_patient(f, n, "adalimumab", observations=negative_screening()),
         description="A first b/tsDMARD after naproxen and celecoxib: the NSAID trial is documented, no card.",
         source=src, **silent(never_fires=["first_bdmard_nsaid_trial"]))


def build_order_sign() -> None:
    f = "order-sign"
    src = "CDS Hooks order-sign: every relevant draft order is answered"
    n = "in-order-sign-pregnant-secukinumab-and-adalimumab-two-cards"
    case(f, n, female(f, n, "secukinumab", hook="order-sign", extra_orders=[draft("adalimumab")],
                      extra_conditions=[cond("c-preg", "pregnant", onset="2026-09-01")]),
         description="At order-sign a pregnant patient's secukinumab and adalimumab are both answered: a warning "
                     "for the IL-17 inhibitor and advice to prefer certolizumab for the TNF inhibitor.",
         source=src + "; ACR 2020 reproductive health", cards={"min": 2, "max": 2}, indicator="warning",
         fires=["pregnancy_no_il17", "pregnancy_tnfi_conditional"], never_suggests=IL17 + JAKI)
    n = "in-order-sign-active-tb-two-biologics-one-critical-hold"
    case(f, n, as_patient(f, n, "adalimumab", hook="order-sign", extra_orders=[draft("secukinumab")],
                          extra_conditions=[cond("c-tb", "active-tb", onset="2026-10-02")]),
         description="At order-sign with active TB, two biologic drafts get one critical hold card that offers to "
                     "remove each draft.",
         source=src + "; FDA labels (TB)", cards={"min": 1, "max": 1}, indicator="critical",
         fires=["active_tb_hold"], never_suggests=BIOLOGICS + JAKI)
    n = "out-order-sign-atorvastatin-and-naproxen-no-cards"
    case(f, n, as_patient(f, n, "atorvastatin", hook="order-sign", extra_orders=[draft("naproxen")]),
         description="At order-sign, a statin and an NSAID are outside the service's scope: no cards.",
         source=src, **silent())


# ---- stop-reason categories ------------------------------------------------------------------------------
# One in and one out case per category of hooks/history.py (read by hooks/stop_reasons.py): the "in" case shows the
# rule that the category triggers (or keeps from triggering) on a TNF inhibitor stop; the "out" case is a close
# wording that belongs to another category, and the card differs accordingly.
SNOMED_TOO_EXPENSIVE = (b.SNOMED, "182872003", "Drug discontinued - too expensive")


def build_stop_reasons() -> None:
    f = "stop-reasons"
    src = "hooks/knowledge/stop_reasons.toml (categories); ACR 2019 Table 1 (definitions); FDA JAKi labels"

    def ada(reason: str | None, start: str = "2025-01-06", end: str | None = "2025-07-07", **kw: Any) -> dict:
        return ms("ms-ada", "adalimumab", start, end, reason=reason, **kw)

    def pair(category: str, in_name: str, in_history: list[dict], in_order: str, in_exp: dict, in_desc: str,
             out_name: str, out_history: list[dict], out_order: str, out_exp: dict, out_desc: str,
             **patient: Any) -> None:
        n = f"in-{category}-{in_name}"
        case(f, n, as_patient(f, n, in_order, history=in_history, **patient), description=in_desc, source=src,
             **in_exp)
        n = f"out-{category}-{out_name}"
        case(f, n, as_patient(f, n, out_order, history=out_history, **patient), description=out_desc, source=src,
             **out_exp)

    jak_label = {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["jak_after_tnfi_label"]}
    jak_ok = {"cards": {"min": 0, "max": 1}, "never_fires": ["jak_after_tnfi_label"]}
    pair("primary-nonresponse",
         "adalimumab-no-improvement-6-months-golimumab-suggests-il17", [ada("No meaningful improvement after 6 months")],
         "golimumab", {"cards": {"min": 1, "max": 1}, "fires": ["tnfi_primary_nonresponse_il17"],
                       "recommended_any_of": IL17},
         "Adalimumab with no meaningful improvement after 6 months is primary non-response: golimumab gets the "
         "ACR #12 card recommending an IL-17 inhibitor.",
         "adalimumab-no-improvement-after-6-weeks-is-an-inadequate-trial",
         [ada("No improvement yet", start="2025-01-06", end="2025-02-17")], "golimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["tnfi_primary_nonresponse_il17"]},
         "'No improvement' after 6 weeks is an inadequate trial, not a failure: no ACR #12 card.")
    pair("secondary-nonresponse",
         "etanercept-lost-response-after-5-years-secukinumab-suggests-other-tnfi", [ETN_LOST()], "secukinumab",
         {"cards": {"min": 1, "max": 1}, "fires": ["tnfi_secondary_nonresponse_other_tnfi"]},
         "Etanercept that lost its effect after 5 years of good control is secondary non-response: an IL-17i order "
         "gets the ACR #13 card (a different TNF inhibitor first).",
         "etanercept-lost-insurance-coverage-after-5-years-is-not-a-failure",
         [ms("ms-etn", "etanercept", "2020-02-01", "2025-10-01", reason="Lost insurance coverage after 5 years")],
         "secukinumab", {"cards": {"min": 0, "max": 1}, "never_fires": ["tnfi_secondary_nonresponse_other_tnfi"]},
         "'Lost insurance coverage' is a cost or access stop, not lost response: no ACR #13 card.")
    pair("adverse-event-local",
         "etanercept-injection-site-reaction-reordered-warns", [ETN_ISR()], "etanercept",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["never_allergen"],
          "never_suggests": ["etanercept"]},
         "An injection-site reaction is a local adverse event: re-ordering etanercept warns (not tolerated).",
         "etanercept-injection-site-reaction-then-adalimumab-is-no-nonresponse", [ETN_ISR()], "adalimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["never_allergen", "tnfi_primary_nonresponse_il17"],
          "text_never_mentions": SEED_PNR},
         "The same local adverse event is no non-response: adalimumab raises no ACR #12 card.")
    pair("adverse-event",
         "adalimumab-stopped-for-raised-liver-enzymes-reordered-warns",
         [ada("Stopped: ALT raised to 5 times the upper limit (drug-induced liver injury)")], "adalimumab",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["never_allergen"]},
         "Adalimumab stopped for drug-induced liver injury (a systemic adverse event) and re-ordered: warn.",
         "adalimumab-no-side-effects-stopped-for-cost-reordered-no-intolerance",
         [ada("No side effects; stopped because the copay was too expensive")], "adalimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["never_allergen", "no_biosimilar_of_failed_tnfi"]},
         "'No side effects' is a negation: the cost stop is no intolerance, so re-ordering adalimumab is not blocked.")
    pair("adverse-event-class",
         "adalimumab-drug-induced-lupus-golimumab-warns-no-tnfi",
         [ada("Stopped: drug-induced lupus (anti-histone antibodies, arthralgia, rash)")], "golimumab",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["tnfi_class_adverse_event"],
          "never_suggests": TNFI},
         "Drug-induced lupus on adalimumab is a TNF-class adverse event: golimumab warns, no TNF inhibitor offered.",
         "adalimumab-stopped-for-a-rash-is-not-a-class-event",
         [ada("Stopped for an itchy rash on the arms")], "golimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["tnfi_class_adverse_event"]},
         "A rash is a systemic adverse event of the molecule, not a TNF-class event: golimumab is not blocked.")
    pair("allergy",
         "adalimumab-anaphylaxis-reordered-warns", [ada("Anaphylaxis after the second dose")], "adalimumab",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["never_allergen"]},
         "Anaphylaxis to adalimumab is an allergy: re-ordering it warns.",
         "adalimumab-no-allergic-reaction-switched-for-convenience-not-an-allergy",
         [ada("No allergic reaction; switched to a monthly product for convenience")], "adalimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["never_allergen"]},
         "'No allergic reaction' is a negation and the stop is a convenience switch: no allergy.")
    pair("infection",
         "adalimumab-stopped-for-sepsis-recently-surfaces-it",
         [ada("Stopped: hospitalised with sepsis", start="2024-03-04", end="2026-09-10")], "adalimumab",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["recent_serious_infection"],
          "never_fires": ["never_allergen", "no_biosimilar_of_failed_tnfi"]},
         "Adalimumab stopped for sepsis in September 2026 is an infection, not a failure: the card surfaces it.",
         "adalimumab-stopped-for-sepsis-in-2019-is-not-recent",
         [ada("Stopped: hospitalised with sepsis", start="2018-03-05", end="2019-02-04")], "adalimumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["recent_serious_infection", "never_allergen"]},
         "The same stop in 2019 is outside the 12-month window: no recent-infection warning.")
    pair("pregnancy",
         "etanercept-stopped-for-pregnancy-recently-secukinumab-warns",
         [ms("ms-etn", "etanercept", "2025-01-13", "2026-09-28", reason="Stopped: pregnant")], "secukinumab",
         {"cards": {"min": 1, "max": 1}, "indicator": "warning", "fires": ["pregnancy_no_il17"]},
         "Etanercept stopped for pregnancy two months ago: a possible pregnancy, so secukinumab gets the pregnancy "
         "warning (confirm the status).",
         "etanercept-stopped-for-pregnancy-in-2022-is-not-current",
         [ms("ms-etn", "etanercept", "2021-01-11", "2022-03-07", reason="Stopped: pregnant")], "secukinumab",
         {"cards": {"min": 0, "max": 1}, "never_fires": ["pregnancy_no_il17"]},
         "A stop for pregnancy in 2022 is no current pregnancy signal.", gender="female", birth="1990-05-05")
    pair("remission",
         "adalimumab-tapered-off-in-remission-upadacitinib-label-not-met",
         [ada("In sustained remission; tapered off")], "upadacitinib", jak_label,
         "Adalimumab stopped in remission is no inadequate response: the JAK label is not met.",
         "adalimumab-remission-never-reached-no-improvement-label-met",
         [ada("Remission never reached: no improvement after 6 months")], "upadacitinib", jak_ok,
         "'Remission never reached: no improvement' is primary non-response: the JAK label is met.")
    pair("cost-access",
         "adalimumab-coded-too-expensive-only-upadacitinib-label-not-met",
         [ada(None, reason_codes=(SNOMED_TOO_EXPENSIVE,))], "upadacitinib", jak_label,
         "A stop coded only as SNOMED CT 182872003 'Drug discontinued - too expensive' is a cost stop: the JAK label "
         "is not met.",
         "adalimumab-prior-authorization-approved-then-ineffective-label-met",
         [ada("Prior authorization approved; stopped for lack of efficacy after 6 months")], "upadacitinib", jak_ok,
         "An approved prior authorisation followed by lack of efficacy is primary non-response: the label is met.")
    pair("adherence-choice",
         "adalimumab-non-adherent-upadacitinib-label-not-met",
         [ada("Non-adherent: missed most doses, patient declined to continue")], "upadacitinib", jak_label,
         "Non-adherence or patient choice is no failure: the JAK label is not met.",
         "adalimumab-adherent-no-response-label-met",
         [ada("Fully adherent; no response after 6 months")], "upadacitinib", jak_ok,
         "Adherent with no response after 6 months is primary non-response: the label is met.")
    pair("temporary-hold",
         "adalimumab-held-for-hip-surgery-upadacitinib-label-not-met",
         [ada("Held for hip replacement surgery")], "upadacitinib", jak_label,
         "A hold for surgery is no failure: the JAK label is not met.",
         "adalimumab-ineffective-is-a-failure-not-a-hold-label-met",
         [ada("Not effective: no improvement at 6 months")], "upadacitinib", jak_ok,
         "A course stopped as ineffective is a failure, not a temporary hold: the label is met.")
    pair("convenience-switch",
         "adalimumab-switched-to-monthly-for-convenience-upadacitinib-label-not-met",
         [ada("Switched to a monthly injection for convenience")], "upadacitinib", jak_label,
         "A convenience switch is no failure: the JAK label is not met.",
         "adalimumab-switched-because-not-working-label-met",
         [ada("Switched because it was not working after 6 months")], "upadacitinib", jak_ok,
         "Switched because it was not working after 6 months is primary non-response: the label is met.")
    pair("inadequate-trial",
         "adalimumab-stopped-after-6-weeks-no-reason-upadacitinib-label-not-met",
         [ada(None, start="2025-01-06", end="2025-02-17")], "upadacitinib", jak_label,
         "Adalimumab stopped after 6 weeks with no reason is an inadequate trial: the JAK label is not met.",
         "adalimumab-not-effective-after-16-weeks-label-met",
         [ada("Not effective", start="2025-01-06", end="2025-04-28")], "upadacitinib", jak_ok,
         "Not effective after 16 weeks is primary non-response: the label is met.")
    pair("unknown",
         "adalimumab-stopped-for-renal-failure-is-no-drug-failure-label-not-met",
         [ada("Stopped: acute renal failure")], "upadacitinib", jak_label,
         "'Renal failure' is not 'the drug failed': the reason is no recognised drug failure and the JAK label is "
         "not met.",
         "adalimumab-treatment-failure-after-6-months-label-met",
         [ada("Treatment failure: no response after 6 months")], "upadacitinib", jak_ok,
         "A treatment failure after 6 months is primary non-response: the label is met.")


# ------------------------------------------------------------------------------------------- write
BUILDERS = (build_seed, build_acr12, build_acr13, build_ae, build_jak, build_ibd, build_uveitis, build_psoriasis,
            build_hf, build_ms, build_tb, build_screening, build_latent_tb, build_hbv, build_hcv,
            build_active_infection, build_recent_infection, build_malignancy, build_boxed, build_jak_label, build_nr,
            build_allergy, build_acr15, build_acr16, build_silent, build_messy, build_il17_failure,
            build_one_at_a_time, build_non_recommended, build_pregnancy, build_pregnancy_nsaid,
            build_planned, build_lactation, build_nsaid_trial, build_order_sign, build_stop_reasons)


def cases() -> list[tuple[str, str, dict, dict]]:
    """Every case, built afresh: (folder, case name, request, expected)."""
    CASES.clear()
    for build in BUILDERS:
        build()
    names = set()
    for folder, name, _, _ in CASES:
        assert (folder, name) not in names, name
        names.add((folder, name))
        assert name.startswith(("in-", "out-")), name
    return [copy.deepcopy(c) for c in CASES]


def dump(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(out: Path = HERE) -> int:
    """Write every case's request and expectation under ``out`` (old case files removed) and the README index."""
    built = cases()
    for folder in sorted({c[0] for c in built}):
        for old in (out / folder).glob("*.json"):
            if not old.name.startswith("_"):
                old.unlink()
    for folder, name, req, exp in built:
        (out / folder).mkdir(parents=True, exist_ok=True)
        (out / folder / f"{name}.request.json").write_text(dump(req))
        (out / folder / f"{name}.expected.json").write_text(dump(exp))
    readme = out / "README.md"
    readme.write_text(with_index(readme.read_text() if readme.exists() else "", built))
    return len(built)


INDEX_START, INDEX_END = "<!-- index:start -->", "<!-- index:end -->"


def index(built: list[tuple[str, str, dict, dict]]) -> str:
    rows = ["| Folder | Case | What it proves | Fires | Source |", "|---|---|---|---|---|"]
    for folder, name, _, exp in sorted(built, key=lambda c: (c[0], c[1])):
        fires = ", ".join(f"`{r}`" for r in exp.get("fires", [])) or (
            "no card" if exp["cards"]["max"] == 0 else "—")
        rows.append(f"| `{folder}` | `{name}` | {exp['description']} | {fires} | {exp['source']} |")
    return "\n".join([INDEX_START, *rows, INDEX_END])


def with_index(text: str, built: list[tuple[str, str, dict, dict]]) -> str:
    table = index(built)
    if INDEX_START in text:
        return text[: text.index(INDEX_START)] + table + text[text.index(INDEX_END) + len(INDEX_END):]
    return text + "\n" + table + "\n"


def main() -> None:
    count = write()
    print(f"wrote {count} cases in {len({c[0] for c in CASES})} folders")


if __name__ == "__main__":
    main()
