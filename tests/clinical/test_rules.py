"""Guideline rules: what the hook says for each clinical situation (one test per promise)."""

from __future__ import annotations

import json
from pathlib import Path

from hooks.contract import HookInput, PatientData
from hooks.engine import evaluate, is_relevant_order

from axspa_builders import (
    ACTIVE_TB, AS, HBV, HEART_FAILURE, IBD, LATENT_TB, MS, NR_AXSPA, PREGNANCY, PSORIASIS, UVEITIS, allergy,
    condition, draft, hook_input, main_card, recommended_drug, statement, suggested_drugs,
)

SEED = Path("/work/shared/examples/seed-patient.order-select.json")
TNF_MAB = {"adalimumab", "certolizumab", "golimumab", "infliximab"}
IL17 = {"secukinumab", "ixekizumab", "bimekizumab"}
JAK = {"upadacitinib", "tofacitinib"}
ETN_LOCAL = statement("etanercept", start="2024-01-10", end="2024-03-01", reason="Localized skin reaction at injection site")
UPA_PRIMARY = statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason="Not effective - no relief")
ADA_PRIMARY = statement("adalimumab", start="2023-01-01", end="2023-07-01", reason="No improvement after 6 months")
ADA_SECONDARY = statement("adalimumab", start="2019-01-01", end="2023-07-01", reason="Lost response")


def seed_input() -> HookInput:
    req = json.loads(SEED.read_text())
    pf = req["prefetch"]
    res = lambda key: tuple(e["resource"] for e in pf[key].get("entry", []))  # noqa: E731
    from datetime import date
    return HookInput(
        hook=req["hook"], hook_instance=req["hookInstance"], patient_id=req["context"]["patientId"],
        user_id=req["context"]["userId"], draft_orders=req["context"]["draftOrders"],
        selections=tuple(req["context"]["selections"]),
        data=PatientData(patient=pf["patient"], medication_statements=res("medicationStatements"),
                         medication_requests=res("medicationRequests"), conditions=res("conditions"),
                         allergies=res("allergies")),
        today=date(2026, 11, 24),
    )


def cards_for(order, **kw):
    return evaluate(hook_input(order, **kw)).cards


# ----------------------------------------------------------------------------------------------- seed


def test_seed_reordered_failed_jak_gets_one_warning_recommending_a_bdmard():
    ev = evaluate(seed_input())
    assert ev.diagnosis == "AS"
    [card] = ev.cards
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Upadacitinib: JAK inhibitor already failed")
    drugs = suggested_drugs(card)
    assert 2 <= len(drugs) <= 4
    assert set(drugs) <= TNF_MAB | IL17
    assert set(drugs) & TNF_MAB and set(drugs) & IL17  # both classes offered
    assert "etanercept" not in drugs and "tofacitinib" not in drugs and "upadacitinib" not in drugs
    assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) == 1
    assert recommended_drug(card) == "adalimumab"
    for s in card["suggestions"]:
        deletes = [a for a in s["actions"] if a["type"] == "delete"]
        assert [a["resourceId"] for a in deletes] == ["MedicationRequest/draft-upadacitinib"]


def test_seed_detail_explains_history_recommendation_and_follow_up():
    [card] = evaluate(seed_input()).cards
    d = card["detail"]
    assert "| etanercept" in d and "adverse event, local (not non-response)" in d
    assert "| upadacitinib" in d and "primary non-response" in d
    assert "No ACR 2019 recommendation covers this" in d and "NICE TA143" in d
    assert "ASAS-EULAR 2022 #12" in d
    assert "Continue celecoxib" in d and "Physical therapy" in d and "12-16 weeks" in d
    assert "latent TB" in d and "hepatitis B" in d


def test_injection_site_stop_does_not_trigger_il17_after_primary_nonresponse_rule():
    [card] = cards_for("upadacitinib", statements=[ETN_LOCAL, UPA_PRIMARY])
    assert "ACR 2019 #12 [#63]" not in card["detail"]


# ---------------------------------------------------------------------------------------- sequencing


def test_tnfi_primary_nonresponse_suggests_il17():
    [card] = cards_for("golimumab", statements=[ADA_PRIMARY])
    assert card["indicator"] == "warning"
    assert "second TNFi after primary non-response" in card["summary"]
    assert recommended_drug(card) in IL17
    assert not set(suggested_drugs(card)) & (TNF_MAB | {"etanercept"})


def test_il17_after_tnfi_primary_nonresponse_is_concordant_info():
    [card] = cards_for("secukinumab", statements=[ADA_PRIMARY])
    assert card["indicator"] == "info" and "suggestions" not in card


def test_tnfi_secondary_nonresponse_suggests_a_different_tnfi_never_the_same_molecule():
    [card] = cards_for("adalimumab", statements=[ADA_SECONDARY])
    assert card["indicator"] == "warning"
    drugs = suggested_drugs(card)
    assert recommended_drug(card) in TNF_MAB - {"adalimumab"}
    assert "adalimumab" not in drugs
    assert "ACR 2019 #14" in card["detail"]


def test_biosimilar_of_failed_tnfi_is_a_strong_warning():
    order = draft("adalimumab", text="adalimumab-adaz (Hyrimoz) 40 mg pen", id="d1")
    order["medicationCodeableConcept"].pop("coding")
    [card] = cards_for(order, statements=[ADA_SECONDARY])
    assert card["indicator"] == "warning" and "already failed" in card["summary"]
    assert "strong" in card["detail"]


def test_after_il17_failure_a_tnf_inhibitor_is_preferred():
    sec = statement("secukinumab", start="2022-01-01", end="2022-09-01", reason="not effective")
    [card] = cards_for("prednisone", statements=[sec])
    assert recommended_drug(card) in TNF_MAB
    assert "ASAS-EULAR 2022 #12" in card["detail"]


def test_no_jak_after_jak_failure_even_a_different_one():
    [card] = cards_for("tofacitinib", statements=[ETN_LOCAL, UPA_PRIMARY])
    assert card["summary"].startswith("Tofacitinib: JAK inhibitor already failed")
    assert not set(suggested_drugs(card)) & JAK


def test_jak_before_any_tnfi_warns_about_the_label():
    [card] = cards_for("upadacitinib")
    assert card["indicator"] == "warning" and "before any TNF inhibitor" in card["summary"]
    assert recommended_drug(card) in TNF_MAB


def test_allergen_and_its_biosimilars_never_suggested():
    [card] = cards_for("etanercept", allergies=[allergy("etanercept", kind="allergy", reaction="anaphylaxis")])
    assert "allergy/intolerance" in card["summary"]
    assert "etanercept" not in suggested_drugs(card)


# -------------------------------------------------------------------------------------- comorbidities


def test_ibd_never_gets_il17():
    [card] = cards_for("secukinumab", conditions=[AS, IBD], statements=[ADA_PRIMARY])
    assert card["indicator"] == "warning" and "IL-17 inhibitor with IBD" in card["summary"]
    drugs = suggested_drugs(card)
    assert drugs and not set(drugs) & IL17 and "etanercept" not in drugs
    assert recommended_drug(card) in TNF_MAB


def test_ibd_in_remission_still_counts():
    ibd = condition(icd="K51.90", text="Ulcerative colitis", clinical="remission")
    [card] = cards_for("ixekizumab", conditions=[AS, ibd])
    assert "IBD" in card["summary"]


def test_uveitis_prefers_tnf_mab_and_warns_on_etanercept():
    [card] = cards_for("etanercept", conditions=[AS, UVEITIS])
    assert card["indicator"] == "warning" and "uveitis" in card["summary"]
    assert recommended_drug(card) in TNF_MAB
    assert "etanercept" not in suggested_drugs(card)


def test_psoriasis_favours_il17():
    [card] = cards_for("methotrexate", conditions=[AS, PSORIASIS])
    assert recommended_drug(card) in IL17
    assert "ASAS-EULAR 2022 #10" in card["detail"]


def test_heart_failure_never_gets_tnfi():
    [card] = cards_for("infliximab", conditions=[AS, HEART_FAILURE])
    assert "TNF inhibitor with heart failure" in card["summary"]
    drugs = suggested_drugs(card)
    assert drugs and not set(drugs) & (TNF_MAB | {"etanercept"})
    assert recommended_drug(card) in IL17


def test_demyelinating_disease_never_gets_tnfi():
    [card] = cards_for("adalimumab", conditions=[AS, MS])
    assert "demyelinating" in card["summary"]
    assert not set(suggested_drugs(card)) & (TNF_MAB | {"etanercept"})


def test_active_tb_is_flagged_critical_first_and_no_biologic_is_drafted():
    cards = cards_for("golimumab", conditions=[AS, ACTIVE_TB], statements=[ADA_PRIMARY])
    assert cards[0]["indicator"] == "critical" and "tuberculosis" in cards[0]["summary"].lower()
    assert len(cards) == 2
    assert suggested_drugs(main_card(cards)) == []


def test_latent_tb_and_hepatitis_b_give_screening_reminders_not_extra_cards():
    [card] = cards_for("secukinumab", conditions=[AS, LATENT_TB, HBV], statements=[ADA_PRIMARY])
    assert "treat latent TB" in card["detail"] and "reactivation" in card["detail"]


def test_jak_risk_factors_are_listed_in_the_cautions():
    smoker = condition(icd="F17.210", text="Nicotine dependence, cigarettes")
    adalimumab_ae = statement("adalimumab", start="2023-01-01", end="2023-09-01", reason="recurrent infections")
    [card] = cards_for("upadacitinib", conditions=[AS, smoker], statements=[adalimumab_ae], birth_date="1955-01-01")
    assert card["indicator"] == "warning" and "boxed warning" in card["summary"]
    assert "Risk factors in this record: age 71" in card["detail"] and "smoking" in card["detail"]
    assert recommended_drug(card) not in JAK


def test_jak_without_risk_factors_is_info_with_the_boxed_warning_in_cautions():
    adalimumab_ae = statement("adalimumab", start="2023-01-01", end="2023-09-01", reason="recurrent infections")
    [card] = cards_for("upadacitinib", statements=[adalimumab_ae], birth_date="1988-01-01")
    assert card["indicator"] == "info" and "none recorded (age 38)" in card["detail"]


def test_pregnancy_rules_out_jak():
    [card] = cards_for("upadacitinib", conditions=[AS, PREGNANCY], statements=[ADA_PRIMARY])
    assert "pregnancy" in card["summary"].lower()
    assert not set(suggested_drugs(card)) & JAK


def test_nraxspa_gets_only_on_label_options():
    [card] = cards_for("adalimumab", conditions=[NR_AXSPA])
    assert "not FDA-labelled for nr-axSpA" in card["summary"]
    assert set(suggested_drugs(card)) <= {"certolizumab", "secukinumab", "ixekizumab", "bimekizumab", "upadacitinib"}
    for s in card["suggestions"]:
        mr = s["actions"][0]["resource"]
        assert mr["reasonCode"][0]["coding"][0]["code"] == "M45.A0"


# ---------------------------------------------------------------------------------- add-ons, steroids


def test_csdmard_add_on_for_axial_disease_warns():
    [card] = cards_for("methotrexate", statements=[statement("adalimumab", status="active", start="2025-01-01")])
    assert card["indicator"] == "warning" and "csDMARD" in card["summary"]
    assert "ACR 2019 #15" in card["detail"]
    drugs = suggested_drugs(card)  # ACR #15: change the biologic rather than add a csDMARD
    assert drugs and "adalimumab" not in drugs and "methotrexate" not in drugs
    assert all(any(a["type"] == "delete" for a in s["actions"]) for s in card["suggestions"])


def test_sulfasalazine_for_peripheral_arthritis_without_biologic_is_allowed():
    arthritis = condition(icd="M13.0", text="Peripheral arthritis of both knees")
    [card] = cards_for("sulfasalazine", conditions=[AS, arthritis])
    assert card["indicator"] == "info"


def test_systemic_glucocorticoid_warns_strongly():
    [card] = cards_for("prednisone")
    assert card["indicator"] == "warning" and "glucocorticoid" in card["summary"]
    assert "ACR 2019 #16" in card["detail"] and "strong" in card["detail"]


def test_intra_articular_steroid_is_not_relevant():
    order = draft("methylprednisolone", text="methylprednisolone acetate 40 mg intra-articular injection")
    assert cards_for(order) == []


# ------------------------------------------------------------------------------------- when to speak


def test_no_card_without_axspa():
    assert cards_for("upadacitinib", conditions=[], statements=[UPA_PRIMARY]) == []


def test_refuted_condition_does_not_count():
    refuted = condition(snomed="9631008", verification="refuted")
    assert cards_for("upadacitinib", conditions=[refuted], statements=[UPA_PRIMARY]) == []


def test_entered_in_error_and_resolved_comorbidities_do_not_count():
    ibd_error = condition(icd="K50.90", verification="entered-in-error")
    hf_resolved = condition(icd="I50.9", clinical="resolved")
    [card] = cards_for("secukinumab", conditions=[AS, ibd_error, hf_resolved], statements=[ADA_PRIMARY])
    assert card["indicator"] == "info"


def test_axspa_recognised_from_text_only_and_noted():
    ev = evaluate(hook_input("upadacitinib", conditions=[condition(text="Ankylosing spondylitis (Bechterew)")],
                             statements=[UPA_PRIMARY]))
    assert ev.diagnosis == "AS" and ev.cards
    assert any("recognised from text" in n for n in ev.notes)


def test_unrelated_order_gets_no_card():
    assert cards_for(draft("lisinopril", text="lisinopril 10 mg tablet")) == []
    assert cards_for("celecoxib") == []


def test_refill_of_ongoing_biologic_stays_silent():
    assert cards_for("secukinumab", statements=[statement("secukinumab", status="active", start="2025-01-01")]) == []


def test_order_sign_gives_one_card_per_relevant_order():
    ev = evaluate(hook_input(None, hook="order-sign", statements=[ETN_LOCAL, UPA_PRIMARY],
                             orders=(draft("upadacitinib"), draft("prednisone"), draft("celecoxib"))))
    assert [c["indicator"] for c in ev.cards] == ["warning", "warning"]


def test_unavailable_data_is_said_in_the_card():
    [card] = cards_for("upadacitinib", statements=[UPA_PRIMARY], unavailable=frozenset({"allergies"}))
    assert "Could not obtain AllergyIntolerances" in card["detail"]


# ----------------------------------------------------------------------------------- is_relevant_order


def test_is_relevant_order_looks_only_at_selected_orders_for_order_select():
    b = hook_input(None, orders=(draft("celecoxib"), draft("upadacitinib"))).draft_orders
    assert not is_relevant_order("order-select", b, ("MedicationRequest/draft-celecoxib",))
    assert is_relevant_order("order-select", b, ("MedicationRequest/draft-upadacitinib",))
    assert is_relevant_order("order-sign", b, ())


def test_is_relevant_order_handles_dstu2_and_references():
    dstu2 = {"resourceType": "MedicationOrder", "id": "o1", "medicationReference": {"display": "Cosentyx 150 mg"}}
    b = {"resourceType": "Bundle", "entry": [{"resource": dstu2}]}
    assert is_relevant_order("order-select", b, ("MedicationOrder/o1",))


def test_is_relevant_order_never_raises_on_garbage():
    for b in (None, {}, {"entry": "x"}, {"entry": [None, {"resource": 5}]}, []):
        assert is_relevant_order("order-select", b, ("MedicationRequest/x",)) is False


def test_active_tb_gives_one_critical_card_and_no_contradicting_info_card():
    cards = evaluate(hook_input("adalimumab", conditions=[AS, ACTIVE_TB])).cards
    assert [c["indicator"] for c in cards] == ["critical"]
    assert "no conflict" not in " ".join(c["summary"] for c in cards).lower()


def test_steroid_while_on_a_biologic_warns_without_claiming_no_alternative_exists():
    on_ada = statement("adalimumab", start="2023-01-09", status="active", reason=None)
    [card] = evaluate(hook_input("prednisone", statements=[on_ada])).cards
    assert card["indicator"] == "warning"
    assert "no safe alternative" not in card["summary"].lower()
    assert "reassess" in card["summary"].lower() and "suggestions" not in card
