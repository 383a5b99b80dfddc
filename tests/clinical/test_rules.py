"""Guideline rules: what the hook says for each clinical situation (one test per promise).

Assertions name the rule that must (or must not) have produced a card (its rules.toml id in ``source.topic``), and
any wording checked is read from rules.toml, so a changed citation cannot make a test pass vacuously.
"""

from __future__ import annotations

from pathlib import Path

from axspa_builders import (
    ACTIVE_TB,
    AS,
    HEART_FAILURE,
    IBD,
    MS,
    NR_AXSPA,
    PSORIASIS,
    UVEITIS,
    allergy,
    condition,
    draft,
    fired,
    hook_input,
    main_card,
    recommended_drug,
    statement,
    suggested_drugs,
    topic,
)

from fhir_fixtures import builders
from hooks.engine import evaluate, is_relevant_order
from hooks.inert import inert
from hooks.knowledge import knowledge
from hooks.response import Card

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "fhir_fixtures" / "seed" / "_seed-source.json"  # the in-repo copy of the shared seed request
TNF_MAB = {"adalimumab", "certolizumab", "golimumab", "infliximab"}
IL17 = {"secukinumab", "ixekizumab", "bimekizumab"}
JAK = {"upadacitinib", "tofacitinib"}
ETN_LOCAL = statement("etanercept", start="2024-01-10", end="2024-03-01", reason="Localized skin reaction at injection site")
UPA_PRIMARY = statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason="Not effective - no relief")
ADA_PRIMARY = statement("adalimumab", start="2023-01-01", end="2023-07-01", reason="No improvement after 6 months")
ADA_SECONDARY = statement("adalimumab", start="2019-01-01", end="2023-07-01", reason="Lost response")


def seed_input():
    import json
    return builders.hook_input(json.loads(SEED.read_text()))


def cards_for(order, **kw) -> list[Card]:
    return evaluate(hook_input(order, **kw)).cards


def rule(rule_id: str):
    return knowledge().rule(rule_id)


def cites(card: Card, rule_id: str) -> bool:
    """The card's detail cites the rule (its citation as written in rules.toml, as the markdown shows it)."""
    return inert(rule(rule_id).citation) in (card.detail or "")


# ----------------------------------------------------------------------------------------------- seed


def test_seed_reordered_failed_jak_gets_one_warning_recommending_a_tnf_mab():
    ev = evaluate(seed_input())
    assert ev.diagnosis == "AS"
    [card] = ev.cards
    assert card.indicator == "warning" and topic(card) == "no_jak_after_jak_failure"
    drugs = suggested_drugs(card)
    assert 2 <= len(drugs) <= 4
    assert set(drugs) <= TNF_MAB | IL17
    assert set(drugs) & TNF_MAB and set(drugs) & IL17  # both classes offered
    assert not set(drugs) & {"etanercept", "tofacitinib", "upadacitinib"}
    assert sum(1 for s in card.suggestions or [] if s.isRecommended) == 1
    assert recommended_drug(card) in TNF_MAB
    for s in card.suggestions or []:
        deletes = [a for a in s.actions or [] if a.type == "delete"]
        assert [a.resourceId for a in deletes] == ["MedicationRequest/draft-upadacitinib"]


def test_seed_detail_says_the_injection_site_reaction_was_an_adverse_event_not_nonresponse():
    [card] = evaluate(seed_input()).cards
    d = card.detail or ""
    assert "| etanercept" in d and "adverse event, local (not non-response)" in d
    assert "| upadacitinib" in d and "primary non-response" in d
    assert "primary non-response to etanercept" not in d.lower()
    assert cites(card, "tnfi_adverse_event_not_nonresponse") and rule("tnfi_adverse_event_not_nonresponse").text in d
    assert cites(card, "no_jak_after_jak_failure")
    assert "Continue celecoxib" in d and cites(card, "physical_therapy") and cites(card, "reassess_response")
    assert cites(card, "tb_screening") and cites(card, "hbv_screening")


def test_injection_site_stop_does_not_trigger_il17_after_primary_nonresponse_rule():
    [card] = cards_for("upadacitinib", statements=[ETN_LOCAL, UPA_PRIMARY])
    assert not cites(card, "tnfi_primary_nonresponse_il17")
    assert topic(card) == "no_jak_after_jak_failure"


# ---------------------------------------------------------------------------------------- sequencing


def test_tnfi_primary_nonresponse_suggests_il17():
    [card] = cards_for("golimumab", statements=[ADA_PRIMARY])
    assert card.indicator == "warning" and topic(card) == "tnfi_primary_nonresponse_il17"
    assert recommended_drug(card) in IL17
    assert not set(suggested_drugs(card)) & (TNF_MAB | {"etanercept"})


def test_il17_after_tnfi_primary_nonresponse_raises_no_conflict():
    cards = cards_for("secukinumab", statements=[ADA_PRIMARY])
    assert all(c.indicator == "info" and not c.suggestions for c in cards)
    assert not fired(cards) & {"tnfi_primary_nonresponse_il17", "never_failed_molecule"}


def test_tnfi_secondary_nonresponse_suggests_a_different_tnfi_never_the_same_molecule():
    [card] = cards_for("adalimumab", statements=[ADA_SECONDARY])
    assert card.indicator == "warning" and topic(card) == "no_biosimilar_of_failed_tnfi"
    drugs = suggested_drugs(card)
    assert recommended_drug(card) in TNF_MAB - {"adalimumab"}
    assert "adalimumab" not in drugs
    assert cites(card, "tnfi_secondary_nonresponse_other_tnfi")


def test_biosimilar_of_failed_tnfi_is_a_strong_warning():
    order = draft("adalimumab", text="adalimumab-adaz (Hyrimoz) 40 mg pen", id="d1")
    order["medicationCodeableConcept"].pop("coding")
    [card] = cards_for(order, statements=[ADA_SECONDARY])
    assert card.indicator == "warning" and topic(card) == "no_biosimilar_of_failed_tnfi"
    assert rule("no_biosimilar_of_failed_tnfi").strength in (card.detail or "")
    assert "adalimumab" not in suggested_drugs(card)


def test_an_order_read_by_an_unverified_biosimilar_name_is_said_in_the_card():
    order = draft("etanercept", text="Eticovo 50 mg/mL prefilled syringe", id="d1")
    order["medicationCodeableConcept"].pop("coding")
    [card] = cards_for(order, statements=[ETN_LOCAL])
    assert topic(card) == "never_allergen"
    assert "not confirmed in a source" in (card.detail or "") and "eticovo" in (card.detail or "").lower()


def test_after_il17_failure_a_tnf_inhibitor_is_preferred():
    sec = statement("secukinumab", start="2022-01-01", end="2022-09-01", reason="not effective")
    [card] = cards_for("prednisone", statements=[sec])
    assert recommended_drug(card) in TNF_MAB
    assert cites(card, "il17i_failure_switch")


def test_no_jak_after_jak_failure_even_a_different_one():
    [card] = cards_for("tofacitinib", statements=[ETN_LOCAL, UPA_PRIMARY])
    assert topic(card) == "no_jak_after_jak_failure"
    assert not set(suggested_drugs(card)) & JAK


def test_no_jak_after_jak_failure_cites_clinical_reasoning_not_a_jak_switch_recommendation():
    r = rule("no_jak_after_jak_failure")
    assert "clinical reasoning" in r.citation.lower() and "another b/tsDMARD" in r.citation
    assert r.unverified


def test_allergen_and_its_biosimilars_never_suggested():
    [card] = cards_for("etanercept", allergies=[allergy("etanercept", kind="allergy", reaction="anaphylaxis")])
    assert topic(card) == "never_allergen"
    assert "etanercept" not in suggested_drugs(card)


def test_the_ordered_drug_is_never_among_its_own_replacements():
    for order, kw in (("adalimumab", {"conditions": [NR_AXSPA]}), ("etanercept", {"conditions": [AS, UVEITIS]}),
                      ("upadacitinib", {"statements": [ADA_PRIMARY], "birth_date": "1950-01-01"}),
                      ("certolizumab", {"conditions": [AS, MS]})):
        for card in cards_for(order, **kw):
            assert order not in suggested_drugs(card), (order, card.summary)


# -------------------------------------------------------------------------------------- comorbidities


def test_ibd_never_gets_il17():
    [card] = cards_for("secukinumab", conditions=[AS, IBD], statements=[ADA_PRIMARY])
    assert card.indicator == "warning" and topic(card) == "ibd_tnf_mab_no_il17"
    drugs = suggested_drugs(card)
    assert drugs and not set(drugs) & IL17 and "etanercept" not in drugs
    assert recommended_drug(card) in TNF_MAB


def test_ibd_in_remission_still_counts():
    ibd = condition(icd="K51.90", text="Ulcerative colitis", clinical="remission")
    [card] = cards_for("ixekizumab", conditions=[AS, ibd])
    assert topic(card) == "ibd_tnf_mab_no_il17"


def test_uveitis_prefers_tnf_mab_and_warns_on_etanercept():
    [card] = cards_for("etanercept", conditions=[AS, UVEITIS])
    assert card.indicator == "warning" and topic(card) == "uveitis_tnf_mab"
    assert recommended_drug(card) in TNF_MAB
    assert "etanercept" not in suggested_drugs(card)


def test_psoriasis_favours_il17():
    [card] = cards_for("methotrexate", conditions=[AS, PSORIASIS])
    assert recommended_drug(card) in IL17
    assert cites(card, "psoriasis_il17")


def test_heart_failure_never_gets_tnfi():
    [card] = cards_for("infliximab", conditions=[AS, HEART_FAILURE])
    assert topic(card) == "hf_demyelinating_no_tnfi" and "heart failure" in card.summary
    drugs = suggested_drugs(card)
    assert drugs and not set(drugs) & (TNF_MAB | {"etanercept"})
    assert recommended_drug(card) in IL17


def test_demyelinating_disease_never_gets_tnfi():
    [card] = cards_for("adalimumab", conditions=[AS, MS])
    assert topic(card) == "hf_demyelinating_no_tnfi" and "demyelinating" in card.summary
    assert not set(suggested_drugs(card)) & (TNF_MAB | {"etanercept"})


def test_active_tb_is_flagged_critical_first_and_no_biologic_is_drafted():
    cards = cards_for("golimumab", conditions=[AS, ACTIVE_TB], statements=[ADA_PRIMARY])
    assert cards[0].indicator == "critical" and topic(cards[0]) == "active_tb_hold"
    assert len(cards) == 2
    assert suggested_drugs(main_card(cards)) == []


def test_active_tb_gives_one_critical_card_and_no_contradicting_info_card():
    cards = cards_for("adalimumab", conditions=[AS, ACTIVE_TB])
    assert [c.indicator for c in cards] == ["critical"]
    assert "no conflict" not in " ".join(c.summary for c in cards).lower()


def test_nraxspa_gets_only_on_label_options():
    [card] = cards_for("adalimumab", conditions=[NR_AXSPA])
    assert topic(card) == "nraxspa_on_label"
    assert set(suggested_drugs(card)) <= {"certolizumab", "secukinumab", "ixekizumab", "bimekizumab", "upadacitinib"}
    for s in card.suggestions or []:
        mr = (s.actions or [])[0].resource or {}
        assert mr["reasonCode"][0]["coding"][0]["code"] == "M45.A0"


# ---------------------------------------------------------------------------------- add-ons, steroids


def test_csdmard_add_on_for_axial_disease_warns_and_offers_a_new_biologic():
    [card] = cards_for("methotrexate", statements=[statement("adalimumab", status="active", start="2025-01-01")])
    assert card.indicator == "warning" and topic(card) == "no_csdmard_axial"
    drugs = suggested_drugs(card)  # ACR #15: change the biologic rather than add a csDMARD
    assert drugs and "adalimumab" not in drugs and "methotrexate" not in drugs
    assert all(any(a.type == "delete" for a in s.actions or []) for s in card.suggestions or [])


def test_sulfasalazine_for_peripheral_arthritis_without_biologic_is_allowed():
    arthritis = condition(icd="M13.0", text="Peripheral arthritis of both knees")
    assert "no_csdmard_axial" not in fired(cards_for("sulfasalazine", conditions=[AS, arthritis]))


def test_systemic_glucocorticoid_warns_strongly():
    [card] = cards_for("prednisone")
    assert card.indicator == "warning" and topic(card) == "no_systemic_glucocorticoids"
    assert rule("no_systemic_glucocorticoids").strength.startswith("strong") and cites(card, "no_systemic_glucocorticoids")


def test_steroid_while_on_a_biologic_warns_without_claiming_no_alternative_exists():
    on_ada = statement("adalimumab", start="2023-01-09", status="active")
    [card] = cards_for("prednisone", statements=[on_ada])
    assert card.indicator == "warning"
    assert "no safe alternative" not in card.summary.lower()
    assert "reassess" in card.summary.lower() and card.suggestions is None


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
    cards = cards_for("secukinumab", conditions=[AS, ibd_error, hf_resolved], statements=[ADA_PRIMARY])
    assert all(c.indicator == "info" for c in cards)
    assert not fired(cards) & {"ibd_tnf_mab_no_il17", "hf_demyelinating_no_tnfi"}


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
    assert [(c.indicator, topic(c)) for c in ev.cards] == [("warning", "no_systemic_glucocorticoids"),
                                                          ("warning", "no_jak_after_jak_failure")]


def test_unavailable_data_is_said_in_the_card():
    [card] = cards_for("upadacitinib", statements=[UPA_PRIMARY], unavailable=frozenset({"allergies"}))
    assert "Could not obtain AllergyIntolerances" in (card.detail or "")


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
