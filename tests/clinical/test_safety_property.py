"""Property test: across random comorbidities, pregnancy, infections, smoking, ages, histories, allergies and orders,
no suggestion ever breaks the hard-safety list (GUIDE.md "Clinical safety, always"), and every card stays valid.

The oracle reads the random record directly (which reason text means what, which comorbidity was drawn); it never
asks the engine's classifier or rules.
"""

from __future__ import annotations

import json

from axspa_builders import (
    ACTIVE_TB,
    AS,
    HBV,
    HEART_FAILURE,
    IBD,
    LATENT_TB,
    MS,
    NR_AXSPA,
    PREGNANCY,
    PSORIASIS,
    SEPSIS,
    UVEITIS,
    allergy,
    condition,
    created,
    hook_input,
    observation,
    statement,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.engine import evaluate
from hooks.response import CDSResponse
from service.cds import CDSResponse as WireResponse

TNFI = ["etanercept", "adalimumab", "infliximab", "certolizumab", "golimumab"]
IL17 = ["secukinumab", "ixekizumab"]
JAK = ["upadacitinib", "tofacitinib"]
ADVANCED = TNFI + IL17 + JAK
ORDERABLE = ADVANCED + ["bimekizumab", "methotrexate", "leflunomide", "sulfasalazine", "prednisone", "celecoxib"]
FAMILY = {**{d: "tnfi" for d in TNFI}, **{d: "il17i" for d in IL17}, "bimekizumab": "il17i",
          **{d: "jaki" for d in JAK}}
NR_ON_LABEL = {"certolizumab", "secukinumab", "ixekizumab", "bimekizumab", "upadacitinib"}
# reason text -> what the record unambiguously says (used by the oracle, independently of the classifier)
REASONS = {
    "Not effective - no relief": "failed",
    "Lost response after initial improvement": "failed",
    "Injection site reaction": "intolerance",
    "Anaphylaxis": "intolerance",
    "Demyelination (optic neuritis)": "class-ae",
    "Insurance no longer covers": "other",
    "Stopped: planning a pregnancy": "other",  # years ago: not a current pregnancy
    None: "none",
}
COMORBIDITIES = {
    "ibd": IBD, "uveitis": UVEITIS, "psoriasis": PSORIASIS, "hf": HEART_FAILURE, "ms": MS, "tb": ACTIVE_TB,
    "ltb": LATENT_TB, "hbv": HBV, "pregnancy": PREGNANCY, "sepsis": SEPSIS,
    "lymphoma": condition("lymphoma", id="c-lymphoma"), "vte": condition("vte-history", id="c-vte"),
    "hypertension": condition("hypertension", id="c-htn"),
    "recent-pneumonia": condition("pneumonia", clinical="resolved", onset="2026-07-01", abatement="2026-08-01",
                                  id="c-pneumonia"),
}
SMOKING = {"current": "current every day smoker", "former": "former smoker", "never": "never smoker", "none": None}
PREGNANCY_STATUS = {"pregnant": "pregnant", "not pregnant": "not pregnant", "none": None}

course = st.tuples(st.sampled_from(ADVANCED), st.sampled_from(list(REASONS)), st.integers(0, 6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    diagnosis=st.sampled_from(["AS", "nr", "text"]),
    comorbid=st.sets(st.sampled_from(list(COMORBIDITIES))),
    courses=st.lists(course, max_size=5),
    allergens=st.sets(st.sampled_from(ADVANCED), max_size=2),
    order=st.sampled_from(ORDERABLE),
    born=st.integers(1940, 2000),
    smoking=st.sampled_from(list(SMOKING)),
    pregnancy_status=st.sampled_from(list(PREGNANCY_STATUS)),
)
def test_no_suggestion_ever_violates_hard_safety(diagnosis, comorbid, courses, allergens, order, born, smoking,
                                                 pregnancy_status):
    dx = {"AS": AS, "nr": NR_AXSPA, "text": condition(text="axial spondyloarthritis")}[diagnosis]
    statements = []
    for i, (drug, reason, year) in enumerate(courses):
        start = f"{2015 + i}-01-01"
        end = f"{2015 + i}-{7 + (year % 5):02d}-01"  # 6-10 months: an adequate trial
        statements.append(statement(drug, start=start, end=end, reason=reason, id=f"s{i}"))
    observations = []
    if SMOKING[smoking]:
        observations.append(observation("smoking", SMOKING[smoking], when="2026-05-01", id="o-smoking"))
    if PREGNANCY_STATUS[pregnancy_status]:
        observations.append(observation("pregnancy", PREGNANCY_STATUS[pregnancy_status], when="2026-11-01",
                                        id="o-pregnancy"))
    inp = hook_input(order, conditions=[dx, *(COMORBIDITIES[c] for c in sorted(comorbid))], statements=statements,
                     allergies=[allergy(a, id=f"a-{a}") for a in sorted(allergens)], observations=observations,
                     birth_date=f"{born}-06-15", gender="female")
    cards = evaluate(inp).cards
    WireResponse.model_validate(json.loads(CDSResponse(cards=cards).model_dump_json(exclude_none=True)))

    never = set(allergens) | {order}
    jak_failed = tnfi_class_ae = False
    for drug, reason, _ in courses:
        kind = REASONS[reason]
        if kind in ("failed", "intolerance", "class-ae"):
            never.add(drug)
            jak_failed = jak_failed or drug in JAK
            tnfi_class_ae = tnfi_class_ae or (drug in TNFI and kind == "class-ae")
    age = 2026 - born  # born mid-June, evaluated on 2026-11-24
    pregnant = "pregnancy" in comorbid or pregnancy_status == "pregnant"
    jak_risk = (age >= 65 or smoking in ("current", "former") or {"lymphoma", "vte", "hypertension"} & comorbid)
    hold = {"tb", "sepsis"} & comorbid

    if order in ADVANCED + ["bimekizumab"] and hold:
        assert cards and cards[0].indicator == "critical", "an active TB or serious infection hold comes first"
    if order in JAK and jak_risk:
        assert any(c.indicator in ("warning", "critical") for c in cards), "a JAK order with boxed-warning risk warns"
    if pregnant and order in ("methotrexate", "leflunomide"):
        assert cards and cards[0].indicator == "critical"
    for card in cards:
        for _, generic in created(card):
            family = FAMILY[generic]
            assert not hold, "nothing is suggested while active TB or an active serious infection is on record"
            assert generic not in never, (generic, order, courses, allergens)
            assert not ("ibd" in comorbid and family == "il17i")
            assert not (({"hf", "ms"} & comorbid or tnfi_class_ae) and family == "tnfi")
            assert not (jak_failed and family == "jaki")
            assert not (jak_risk and family == "jaki"), "no JAK inhibitor when the record carries JAK risk"
            assert not (pregnant and family in ("il17i", "jaki")), "never an IL-17 or JAK inhibitor in pregnancy"
            if diagnosis in ("nr", "text"):
                assert generic in NR_ON_LABEL
