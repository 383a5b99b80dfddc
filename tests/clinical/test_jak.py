"""JAK inhibitors: the US label's TNF-blocker sequencing (what the record must show) and the boxed-warning risk read
from the record (age, smoking status Observation, cardiovascular risk, VTE, malignancy), with non-JAK suggestions."""

from __future__ import annotations

from axspa_builders import (
    AS,
    NR_AXSPA,
    condition,
    fired,
    hook_input,
    observation,
    recommended_drug,
    statement,
    suggested_drugs,
    topic,
)

from hooks.engine import evaluate

JAK = {"upadacitinib", "tofacitinib"}
ADA_PRIMARY = statement("adalimumab", start="2023-01-01", end="2023-07-01", reason="No improvement after 6 months")
ETN_ISR = statement("etanercept", start="2023-01-01", end="2023-02-20", reason="Injection site reaction")
SEC_PRIMARY = statement("secukinumab", start="2024-01-01", end="2024-07-01", reason="No improvement after 6 months")


def cards(order="upadacitinib", **kw):
    return evaluate(hook_input(order, **kw)).cards


def test_jak_before_any_tnfi_warns_about_the_label():
    [card] = cards()
    assert card.indicator == "warning" and topic(card) == "jak_after_tnfi_label"
    assert recommended_drug(card) in {"adalimumab", "certolizumab", "golimumab", "infliximab"}


def test_jak_after_an_il17_failure_only_does_not_meet_the_label():
    [card] = cards(statements=[SEC_PRIMARY])
    assert topic(card) == "jak_after_tnfi_label" and "is not a TNF blocker" in (card.detail or "")


def test_jak_after_a_tnfi_stopped_for_cost_does_not_meet_the_label():
    cost = statement("adalimumab", start="2023-01-01", end="2023-09-01", reason="Insurance stopped covering it; too expensive")
    [card] = cards(statements=[cost])
    assert topic(card) == "jak_after_tnfi_label" and "not documented" in card.summary


def test_an_ongoing_tnfi_without_a_documented_failure_does_not_meet_the_label():
    [card] = cards(statements=[statement("adalimumab", status="active", start="2025-01-01")])
    assert topic(card) == "jak_after_tnfi_label" and "no inadequate response or intolerance documented" in (card.detail or "")


def test_jak_after_tnfi_intolerance_or_nonresponse_meets_the_label():
    for history in ([ADA_PRIMARY], [ETN_ISR]):
        assert "jak_after_tnfi_label" not in fired(cards(statements=history))


def test_nraxspa_tofacitinib_is_off_label_and_upadacitinib_is_the_only_jak_offered():
    [card] = cards("tofacitinib", conditions=[NR_AXSPA], statements=[ETN_ISR])
    assert topic(card) == "nraxspa_on_label"
    assert "tofacitinib" not in suggested_drugs(card)


def test_jak_boxed_warning_risk_suggests_no_jak():
    lymphoma = condition("lymphoma")
    [card] = cards(conditions=[AS, lymphoma], statements=[ADA_PRIMARY], birth_date="1957-05-01")  # age 69
    assert card.indicator == "warning" and topic(card) == "jak_boxed_warning"
    drugs = suggested_drugs(card)
    assert drugs and not set(drugs) & JAK, "a JAK inhibitor flagged for its boxed-warning risk is not replaced by one"


def test_a_former_smoker_from_the_smoking_status_observation_is_a_jak_risk_factor():
    [card] = cards(statements=[ADA_PRIMARY], observations=[observation("smoking", "former smoker")],
                   birth_date="1971-01-01")
    assert topic(card) == "jak_boxed_warning" and "former smoker" in card.summary
    assert not set(suggested_drugs(card)) & JAK


def test_a_never_smoker_under_50_without_risk_factors_gets_no_boxed_warning_conflict():
    found = cards(statements=[ADA_PRIMARY], observations=[observation("smoking", "never smoker")], birth_date="1990-01-01")
    assert "jak_boxed_warning" not in fired(found)
    assert "none recorded (age 36; smoking status never" in " ".join(c.detail or "" for c in found)


def test_age_50_with_a_cardiovascular_risk_factor_is_a_jak_risk():
    [card] = cards(conditions=[AS, condition("hypertension")], statements=[ADA_PRIMARY], birth_date="1970-01-01")
    assert topic(card) == "jak_boxed_warning" and "cardiovascular risk factor" in (card.detail or "")


def test_age_65_alone_is_a_jak_risk():
    [card] = cards(statements=[ADA_PRIMARY], birth_date="1958-01-01")
    assert topic(card) == "jak_boxed_warning" and "age 68" in card.summary


def test_jak_risk_factors_are_listed_in_the_card():
    smoker = condition(icd="F17.210", text="Nicotine dependence, cigarettes")
    adalimumab_ae = statement("adalimumab", start="2023-01-01", end="2023-09-01", reason="recurrent infections")
    [card] = cards(conditions=[AS, smoker], statements=[adalimumab_ae], birth_date="1955-01-01")
    assert card.indicator == "warning" and topic(card) == "jak_boxed_warning"
    assert "Risk factors in this record: age 71" in (card.detail or "") and "smoker" in (card.detail or "")
    assert recommended_drug(card) not in JAK
