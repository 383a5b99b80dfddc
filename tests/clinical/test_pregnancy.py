"""Pregnancy, planned pregnancy and breastfeeding: blocks where the sources say so (IL-17 and JAK inhibitors,
methotrexate, leflunomide in pregnancy), advice where they say so (planned pregnancy, breastfeeding, NSAIDs by
gestational age), certolizumab preferred."""

from __future__ import annotations

from axspa_builders import (
    AS,
    PREGNANCY,
    condition,
    created,
    fired,
    hook_input,
    observation,
    recommended_drug,
    statement,
    suggested_drugs,
    topic,
)

from hooks.engine import evaluate

ADA_PRIMARY = statement("adalimumab", start="2023-01-01", end="2023-07-01", reason="No improvement after 6 months")
CELECOXIB = statement("celecoxib", status="active", start="2025-03-05")
NAPROXEN = statement("naproxen", status="active", start="2025-03-05")
IBUPROFEN = statement("ibuprofen", start="2024-01-01", end="2024-06-01", reason="Insufficient relief at full dose")
NEGATIVE = (observation("igra", "negative"), observation("hbsag", "negative"), observation("anti-hbc", "negative"))
IL17, JAK = {"secukinumab", "ixekizumab", "bimekizumab"}, {"upadacitinib", "tofacitinib"}


def cards(order, *, conditions=(AS, PREGNANCY), **kw):
    kw.setdefault("gender", "female")
    return evaluate(hook_input(order, conditions=conditions, **kw)).cards


def test_pregnancy_never_gets_il17_or_jak():
    for order in ("secukinumab", "ixekizumab", "upadacitinib", "tofacitinib", "prednisone"):
        for card in cards(order, statements=[ADA_PRIMARY]):
            assert not set(suggested_drugs(card)) & (IL17 | JAK), (order, card.summary)


def test_il17_ordered_in_pregnancy_warns_and_recommends_certolizumab():
    [card] = cards("secukinumab")
    assert card.indicator == "warning" and topic(card) == "pregnancy_no_il17"
    assert recommended_drug(card) == "certolizumab"


def test_jak_ordered_in_pregnancy_warns():
    [card] = cards("upadacitinib", statements=[ADA_PRIMARY])
    assert card.indicator == "warning" and topic(card) == "pregnancy_no_jak"


def test_methotrexate_in_pregnancy_is_critical_and_never_no_conflict():
    for order in ("methotrexate", "leflunomide"):
        [card] = cards(order)
        assert card.indicator == "critical" and topic(card) == "pregnancy_no_mtx_leflunomide"
        assert not card.suggestions


def test_pregnancy_status_observation_counts_by_its_value_not_by_its_code():
    pregnant = cards("secukinumab", conditions=[AS], observations=[observation("pregnancy", "pregnant")])
    assert "pregnancy_no_il17" in fired(pregnant)
    not_pregnant = cards("secukinumab", conditions=[AS], observations=[observation("pregnancy", "not pregnant")])
    assert "pregnancy_no_il17" not in fired(not_pregnant)


def test_a_not_pregnant_status_after_an_active_pregnancy_condition_is_read_as_possible_pregnancy():
    stale = condition("pregnant", onset="2026-03-01")
    [card] = cards("secukinumab", conditions=[AS, stale],
                   observations=[observation("pregnancy", "not pregnant", when="2026-11-20")])
    assert topic(card) == "pregnancy_no_il17" and "possibly pregnant (confirm)" in (card.detail or "")


def test_a_pregnancy_status_older_than_the_horizon_is_not_current():
    old = observation("pregnancy", "pregnant", when="2025-01-01")
    assert "pregnancy_no_il17" not in fired(cards("secukinumab", conditions=[AS], observations=[old]))


def test_other_tnfi_in_pregnancy_is_advice_to_prefer_certolizumab():
    [card] = cards("adalimumab")
    assert card.indicator == "info" and topic(card) == "pregnancy_tnfi_conditional"
    assert recommended_drug(card) == "certolizumab"


def test_certolizumab_in_pregnancy_raises_no_pregnancy_conflict():
    found = cards("certolizumab", statements=[IBUPROFEN, NAPROXEN], observations=NEGATIVE,
                  conditions=[AS, condition("pregnant-12-weeks", recorded="2026-11-20")])
    assert not fired(found) & {"pregnancy_tnfi_conditional", "pregnancy_no_il17", "pregnancy_no_jak"}


def test_no_continue_the_nsaid_advice_in_pregnancy_and_none_from_20_weeks():
    preg24 = condition("pregnant-24-weeks", recorded="2026-11-20")
    [card] = cards("certolizumab", conditions=[AS, preg24], statements=[IBUPROFEN, CELECOXIB], observations=NEGATIVE)
    assert card.indicator == "warning" and topic(card) == "pregnancy_nsaid_by_gestation"
    assert "Continue celecoxib" not in (card.detail or "") and "stop celecoxib" in (card.detail or "")


def test_nsaid_advice_says_when_the_gestational_age_is_not_recorded():
    [card] = cards("certolizumab", statements=[IBUPROFEN, CELECOXIB], observations=NEGATIVE)
    assert topic(card) == "pregnancy_nsaid_by_gestation" and "gestational age is not recorded" in (card.detail or "")


def test_before_20_weeks_a_cox2_selective_nsaid_gets_advice_to_prefer_a_non_selective_one():
    preg12 = condition("pregnant-12-weeks", recorded="2026-11-20")
    [card] = cards("certolizumab", conditions=[AS, preg12], statements=[IBUPROFEN, CELECOXIB], observations=NEGATIVE)
    assert card.indicator == "info" and "non-selective NSAID to celecoxib" in (card.detail or "")
    assert cards("certolizumab", conditions=[AS, preg12], statements=[IBUPROFEN, NAPROXEN], observations=NEGATIVE) == []


def test_gestational_age_advances_from_the_date_it_was_recorded():
    preg = condition("pregnant-12-weeks", recorded="2026-08-01")  # 12 weeks then, 28 weeks on 2026-11-24
    [card] = cards("certolizumab", conditions=[AS, preg], statements=[IBUPROFEN, CELECOXIB], observations=NEGATIVE)
    assert "At 28 weeks" in (card.detail or "")


def test_planned_pregnancy_is_advice_not_a_block():
    planned = condition("planned-pregnancy")
    [card] = cards("upadacitinib", conditions=[AS, planned], statements=[ADA_PRIMARY])
    assert card.indicator == "info" and topic(card) == "planned_pregnancy_advice"
    assert not set(suggested_drugs(card)) & JAK
    [card] = cards("secukinumab", conditions=[AS, planned], statements=[ADA_PRIMARY, IBUPROFEN, NAPROXEN],
                   observations=NEGATIVE, settings=None) or [None]
    assert card is None, "secukinumab may continue while trying to conceive: nothing to say"


def test_a_male_patient_planning_to_father_a_child_gets_no_planned_pregnancy_advice():
    planned = condition("planned-pregnancy")
    found = cards("methotrexate", conditions=[AS, planned], gender="male")
    assert "planned_pregnancy_advice" not in fired(found)


def test_breastfeeding_discourages_jak_inhibitors_and_keeps_tnf_inhibitors():
    lactating = condition("breastfeeding")
    [card] = cards("upadacitinib", conditions=[AS, lactating], statements=[ADA_PRIMARY])
    assert card.indicator == "info" and topic(card) == "lactation_advice"
    assert not set(suggested_drugs(card)) & JAK
    assert "lactation_advice" not in fired(cards("adalimumab", conditions=[AS, lactating],
                                                 statements=[IBUPROFEN, NAPROXEN], observations=NEGATIVE))


def test_an_il17_still_active_in_a_pregnant_patient_is_said_to_be_stopped():
    on_sec = statement("secukinumab", status="active", start="2025-01-01")
    [card] = cards("certolizumab", statements=[on_sec, IBUPROFEN, NAPROXEN], observations=NEGATIVE)
    assert card.indicator == "warning" and topic(card) == "pregnancy_no_il17"
    assert "secukinumab is still active" in (card.detail or "").lower() and "IL-17" in card.summary
    assert created(card) == []
