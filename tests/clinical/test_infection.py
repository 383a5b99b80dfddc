"""Infections before a biologic or JAK inhibitor: holds, latent TB, hepatitis B and C, recent serious infections, and
screening reminders that a recent negative result silences (and the card says so)."""

from __future__ import annotations

from axspa_builders import (
    ACTIVE_TB,
    AS,
    LATENT_TB,
    SEPSIS,
    condition,
    fired,
    hook_input,
    observation,
    statement,
    suggested_drugs,
    topic,
)

from hooks.engine import evaluate

NSAIDS = (statement("ibuprofen", start="2024-01-01", end="2024-06-01", reason="Insufficient relief at full dose"),
          statement("naproxen", status="active", start="2024-06-05"))
IGRA_NEG, HBSAG_NEG, ANTI_HBC_NEG = (observation("igra", "negative", when="2026-06-01"),
                                     observation("hbsag", "negative", when="2026-06-01"),
                                     observation("anti-hbc", "negative", when="2026-06-01"))


def cards(order="adalimumab", *, conditions=(AS,), observations=(IGRA_NEG, HBSAG_NEG, ANTI_HBC_NEG), statements=NSAIDS,
          **kw):
    return evaluate(hook_input(order, conditions=conditions, observations=observations, statements=statements,
                               **kw)).cards


def test_active_serious_infection_holds_every_biologic_with_a_critical_card_and_suggests_nothing():
    for order in ("adalimumab", "secukinumab", "upadacitinib"):
        found = cards(order, conditions=[AS, SEPSIS])
        assert found and found[0].indicator == "critical" and topic(found[0]) == "active_infection_hold"
        assert not any(suggested_drugs(c) for c in found)


def test_active_tb_and_active_infection_hold_even_a_conflicting_order_without_suggestions():
    adalimumab_pnr = statement("adalimumab", start="2023-01-01", end="2023-07-01", reason="not effective")
    found = cards("golimumab", conditions=[AS, ACTIVE_TB], statements=[*NSAIDS, adalimumab_pnr])
    assert topic(found[0]) == "active_tb_hold" and not any(suggested_drugs(c) for c in found)


def test_latent_tb_without_treatment_is_a_warning_not_a_screening_reminder():
    [card] = cards(conditions=[AS, LATENT_TB])
    assert card.indicator == "warning" and topic(card) == "latent_tb_untreated"
    assert "tb_screening" not in fired([card])


def test_latent_tb_with_its_treatment_on_record_is_no_warning():
    isoniazid = statement("isoniazid", start="2025-06-01", end="2026-03-01")
    assert cards(conditions=[AS, LATENT_TB], statements=[*NSAIDS, isoniazid]) == []


def test_a_positive_igra_with_no_treatment_is_latent_tb_untreated():
    [card] = cards(observations=[observation("igra", "positive", when="2026-09-01"), HBSAG_NEG, ANTI_HBC_NEG])
    assert topic(card) == "latent_tb_untreated" and card.indicator == "warning"


def test_the_igra_mitogen_control_is_never_read_as_a_tb_result():
    mitogen = observation("igra-mitogen", quantity=8.2, unit="[IU]/mL", when="2026-09-01")
    ev = evaluate(hook_input("adalimumab", statements=NSAIDS, observations=[mitogen, HBSAG_NEG, ANTI_HBC_NEG]))
    [card] = ev.cards
    assert topic(card) == "tb_screening", "the mitogen control does not silence the TB reminder"
    assert any("71774-4" in n for n in ev.notes)


def test_a_recent_negative_igra_silences_the_tb_reminder_and_the_card_says_so():
    [card] = cards(observations=[IGRA_NEG])  # HBV not screened: the card exists for that
    assert topic(card) == "hbv_screening" and "tb_screening" not in card.summary
    assert "IGRA) negative on 2026-06-01" in (card.detail or "") and "no TB screening reminder" in (card.detail or "")


def test_a_negative_igra_older_than_12_months_does_not_silence_the_reminder():
    old = observation("igra", "negative", when="2025-06-01")
    [card] = cards(observations=[old, HBSAG_NEG, ANTI_HBC_NEG])
    assert topic(card) == "tb_screening" and "older than 12 months" in (card.detail or "")


def test_entered_in_error_and_preliminary_results_do_not_count():
    for status in ("entered-in-error", "preliminary"):
        igra = observation("igra", "negative", when="2026-06-01", status=status)
        [card] = cards(observations=[igra, HBSAG_NEG, ANTI_HBC_NEG])
        assert topic(card) == "tb_screening", status


def test_unavailable_observations_are_said_and_keep_the_reminders():
    [card] = cards(observations=(), unavailable=frozenset({"observations"}))
    assert topic(card) == "tb_screening"
    assert "Could not obtain Observations" in (card.detail or "")


def test_hbsag_positive_or_chronic_hepatitis_b_is_a_warning():
    [card] = cards(observations=[IGRA_NEG, observation("hbsag", "positive", when="2026-09-01")])
    assert card.indicator == "warning" and topic(card) == "hbv_chronic"
    [card] = cards(conditions=[AS, condition("hbv")])
    assert card.indicator == "warning" and topic(card) == "hbv_chronic"


def test_anti_hbc_positive_with_hbsag_negative_is_a_caution_to_monitor():
    [card] = cards(observations=[IGRA_NEG, HBSAG_NEG, observation("anti-hbc", "positive", when="2026-09-01")])
    assert card.indicator == "info" and topic(card) == "hbv_past_infection"


def test_a_resolved_hepatitis_b_counts_as_past_infection():
    resolved = condition("hbv", clinical="resolved")
    [card] = cards(conditions=[AS, resolved])
    assert topic(card) == "hbv_past_infection"


def test_hepatitis_c_is_a_caution():
    [card] = cards(conditions=[AS, condition("hcv")])
    assert card.indicator == "info" and topic(card) == "hepatitis_c_caution"


def test_a_recent_serious_infection_is_surfaced_an_old_one_is_not():
    recent = condition("pneumonia", clinical="resolved", onset="2026-07-01", abatement="2026-08-01")
    [card] = cards(conditions=[AS, recent])
    assert card.indicator == "warning" and topic(card) == "recent_serious_infection"
    old = condition("pneumonia", clinical="resolved", onset="2020-07-01", abatement="2020-08-01")
    assert cards(conditions=[AS, old]) == []


def test_malignancy_history_cautions_tnf_and_jak_inhibitors():
    [card] = cards(conditions=[AS, condition("lymphoma")])
    assert topic(card) == "malignancy_caution"
    assert "malignancy_caution" not in fired(cards("secukinumab", conditions=[AS, condition("lymphoma")]))
