"""Property test: across random comorbidities, histories, allergies and orders, no suggestion ever breaks the
hard-safety list, and every card stays valid."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks.engine import evaluate
from service.cds import Card

from axspa_builders import (
    ACTIVE_TB, AS, HBV, HEART_FAILURE, IBD, LATENT_TB, MS, NR_AXSPA, PREGNANCY, PSORIASIS, UVEITIS, allergy,
    condition, hook_input, statement,
)

TNFI = ["etanercept", "adalimumab", "infliximab", "certolizumab", "golimumab"]
IL17 = ["secukinumab", "ixekizumab"]
JAK = ["upadacitinib", "tofacitinib"]
ADVANCED = TNFI + IL17 + JAK
ORDERABLE = ADVANCED + ["methotrexate", "sulfasalazine", "prednisone", "celecoxib"]
GENERIC_FAMILY = {**{d: "tnfi" for d in TNFI}, **{d: "il17i" for d in IL17}, "bimekizumab": "il17i",
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
    None: "none",
}
COMORBIDITIES = {"ibd": IBD, "uveitis": UVEITIS, "psoriasis": PSORIASIS, "hf": HEART_FAILURE, "ms": MS,
                 "tb": ACTIVE_TB, "ltb": LATENT_TB, "hbv": HBV, "pregnancy": PREGNANCY}

course = st.tuples(st.sampled_from(ADVANCED), st.sampled_from(list(REASONS)), st.integers(0, 6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    diagnosis=st.sampled_from(["AS", "nr", "text"]),
    comorbid=st.sets(st.sampled_from(list(COMORBIDITIES))),
    courses=st.lists(course, max_size=5),
    allergens=st.sets(st.sampled_from(ADVANCED), max_size=2),
    order=st.sampled_from(ORDERABLE),
)
def test_no_suggestion_ever_violates_hard_safety(diagnosis, comorbid, courses, allergens, order):
    dx = {"AS": AS, "nr": NR_AXSPA, "text": condition(text="axial spondyloarthritis")}[diagnosis]
    statements = []
    for i, (drug, reason, year) in enumerate(courses):
        start = f"{2015 + i}-01-01"
        end = f"{2015 + i}-{7 + (year % 5):02d}-01"  # 6-10 months: an adequate trial
        statements.append(statement(drug, start=start, end=end, reason=reason, id=f"s{i}"))
    inp = hook_input(order, conditions=[dx, *(COMORBIDITIES[c] for c in sorted(comorbid))],
                     statements=statements, allergies=[allergy(a, id=f"a-{a}") for a in sorted(allergens)])
    cards = evaluate(inp).cards

    never = set(allergens)
    jak_failed = False
    tnfi_class_ae = False
    for drug, reason, _ in courses:
        kind = REASONS[reason]
        if kind in ("failed", "intolerance", "class-ae"):
            never.add(drug)
        if drug in JAK and kind in ("failed", "intolerance", "class-ae"):
            jak_failed = True
        if drug in TNFI and kind == "class-ae":
            tnfi_class_ae = True

    if order in ADVANCED and "tb" in comorbid:
        assert cards and cards[0]["indicator"] == "critical"
    for card in cards:
        Card.model_validate(card)
        for s in card.get("suggestions", []):
            for a in s["actions"]:
                if a["type"] != "create":
                    continue
                generic = a["resource"]["medicationCodeableConcept"]["text"].split(" ")[0]
                family = GENERIC_FAMILY[generic]
                assert generic not in never, (generic, courses, allergens)
                assert not ("ibd" in comorbid and family == "il17i")
                assert not (({"hf", "ms"} & comorbid or tnfi_class_ae) and family == "tnfi")
                assert not (jak_failed and family == "jaki")
                assert "tb" not in comorbid, "no biologic is drafted while active TB is on record"
                if diagnosis in ("nr", "text"):
                    assert generic in NR_ON_LABEL
