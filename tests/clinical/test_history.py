"""Therapy history: record reading, course merging and stop-reason classification."""

from __future__ import annotations

import tomllib

from axspa_builders import allergy, concept, condition, hook_input, request, statement

from hooks.engine import evaluate
from hooks.history import (
    ACCESS,
    ADHERENCE,
    AE,
    AE_CLASS,
    AE_LOCAL,
    ALLERGY,
    INADEQUATE,
    INFECTION,
    NOT_FAILURE,
    OUTCOME_LABELS,
    PREGNANCY,
    PRIMARY,
    SECONDARY,
    TEMPORARY,
    UNCLASSIFIED_LABEL,
    UNKNOWN,
)
from hooks.knowledge import KNOWLEDGE_DIR, knowledge
from hooks.record import read_medications


def history(**kw):
    return evaluate(hook_input(**kw)).history


def course_of(courses, drug):
    [c] = [c for c in courses if c.drug == drug]
    return c


def test_injection_site_reaction_is_adverse_event_not_primary_nonresponse():
    c = course_of(history(statements=[statement("etanercept", start="2024-01-10", end="2024-03-01",
                                                reason="Localized skin reaction at injection site")]), "etanercept")
    assert c.stop_reason == AE_LOCAL
    assert not c.failed and c.not_tolerated
    assert c.evidence == ("Localized skin reaction at injection site",)


def test_not_effective_after_12_weeks_is_primary_nonresponse():
    c = course_of(history(statements=[statement("upadacitinib", start="2024-04-02", end="2024-08-15",
                                                reason="Not effective - no relief")]), "upadacitinib")
    assert c.stop_reason == PRIMARY and c.failed
    assert c.duration_days == 135


def test_not_effective_before_12_weeks_is_inadequate_trial_not_failure():
    c = course_of(history(statements=[statement("adalimumab", start="2024-01-01", end="2024-02-15",
                                                reason="no improvement")]), "adalimumab")
    assert c.stop_reason == INADEQUATE and not c.failed


def test_explicit_primary_failure_counts_at_any_duration():
    c = course_of(history(statements=[statement("adalimumab", start="2024-01-01", end="2024-02-15",
                                                reason="Primary non-response")]), "adalimumab")
    assert c.stop_reason == PRIMARY


def test_not_effective_with_unknown_duration_is_primary_nonresponse():
    c = course_of(history(statements=[statement("adalimumab", reason="ineffective")]), "adalimumab")
    assert c.stop_reason == PRIMARY


def test_lost_response_is_secondary_nonresponse():
    for text in ("Lost response after 2 years", "stopped working", "worked initially, then flare"):
        c = course_of(history(statements=[statement("adalimumab", start="2020-01-01", end="2023-01-01", reason=text)]),
                      "adalimumab")
        assert c.stop_reason == SECONDARY, text


def test_tnfi_stopped_before_12_weeks_without_reason_is_inadequate_trial():
    c = course_of(history(statements=[statement("adalimumab", start="2024-01-01", end="2024-02-01")]), "adalimumab")
    assert c.stop_reason == INADEQUATE


def test_no_reason_on_adequate_course_is_unknown_never_guessed():
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2024-02-01")]), "adalimumab")
    assert c.stop_reason == UNKNOWN and not c.failed and not c.not_tolerated


def test_allergy_record_supplies_the_reason_when_the_course_has_none():
    c = course_of(history(statements=[statement("infliximab", start="2022-01-01", end="2022-03-01")],
                          allergies=[allergy("infliximab", kind="allergy", reaction="Anaphylaxis during infusion")]),
                  "infliximab")
    assert c.stop_reason == ALLERGY


def test_intolerance_without_reaction_text_is_adverse_event():
    c = course_of(history(statements=[statement("certolizumab", start="2022-01-01", end="2022-09-01")],
                          allergies=[allergy("certolizumab")]), "certolizumab")
    assert c.stop_reason == AE


def test_demyelination_is_class_adverse_event():
    c = course_of(history(statements=[statement("adalimumab", start="2021-01-01", end="2022-01-01",
                                                reason="Optic neuritis / demyelination")]), "adalimumab")
    assert c.stop_reason == AE_CLASS


def test_cost_is_access_not_failure():
    c = course_of(history(statements=[statement("golimumab", start="2021-01-01", end="2022-01-01",
                                                reason="Insurance stopped coverage")]), "golimumab")
    assert c.stop_reason == ACCESS and not c.failed and c.not_a_failure


def test_no_side_effects_is_not_an_adverse_event():
    c = course_of(history(statements=[statement("adalimumab", start="2021-01-01", end="2021-06-01",
                                                reason="No side effects but not effective")]), "adalimumab")
    assert c.stop_reason == PRIMARY and not c.not_tolerated


def test_not_effective_after_a_long_course_is_lost_response():
    c = course_of(history(statements=[statement("adalimumab", start="2021-01-01", end="2022-01-01",
                                                reason="No side effects but not effective")]), "adalimumab")
    assert c.stop_reason == SECONDARY and not c.not_tolerated
    assert "read as lost response" in c.evidence[-1]


def test_free_text_brand_name_is_matched():
    c = course_of(history(statements=[statement(text="Pt took Humira pen 40mg q2w", start="2021-01-01",
                                                end="2022-01-01", reason="no response")]), "adalimumab")
    assert c.family == "tnfi" and c.stop_reason == PRIMARY


def test_biosimilar_name_maps_to_its_molecule():
    c = course_of(history(statements=[statement(text="adalimumab-atto (Amjevita)", start="2021-01-01",
                                                end="2022-01-01", reason="lost response")]), "adalimumab")
    assert c.stop_reason == SECONDARY
    c = course_of(history(statements=[statement(text="Inflectra infusion", start="2021-01-01", end="2022-01-01")]),
                  "infliximab")
    assert c.drug_class == "TNF monoclonal antibody"


def test_name_inside_another_word_is_not_matched():
    courses = history(statements=[statement(text="Humiraxyz trial drug", start="2021-01-01", end="2022-01-01")])
    assert courses == ()


def test_statement_and_request_for_the_same_drug_merge_into_one_course():
    courses = history(
        statements=[statement("secukinumab", start="2023-01-01", end="2023-09-01", reason="not effective")],
        requests=[request("secukinumab", authored="2023-01-01", status="stopped")],
    )
    [c] = courses
    assert c.stop_reason == SECONDARY  # "not effective" after an 8-month course (> 26 weeks): lost response
    assert len(c.sources) == 2


def test_monthly_refill_requests_merge_into_one_course():
    reqs = [request("adalimumab", authored=f"2023-{m:02d}-05", status="completed") for m in range(1, 10)]
    reqs.append(request("adalimumab", authored="2023-10-05", status="stopped", reason="stopped working"))
    [c] = history(requests=reqs)
    assert c.start.isoformat() == "2023-01-05" and c.end.isoformat() == "2023-10-05"
    assert c.stop_reason == SECONDARY


def test_medication_request_only_active_history_is_ongoing():
    reqs = [request("secukinumab", authored="2026-06-01", status="completed"),
            request("secukinumab", authored="2026-09-01", status="active")]
    [c] = history(requests=reqs)
    assert c.status == "active" and c.stop_reason is None


def test_courses_years_apart_stay_separate():
    courses = history(statements=[
        statement("adalimumab", start="2015-01-01", end="2016-01-01", reason="patient preference"),
        statement("adalimumab", start="2022-01-01", end="2023-01-01", reason="lost response"),
    ])
    assert [c.stop_reason for c in courses] == [ADHERENCE, SECONDARY]


def test_undated_record_joins_the_latest_course_not_an_earlier_one():
    undated = statement("adalimumab", id="ms-undated")
    courses = history(statements=[
        statement("adalimumab", start="2015-01-01", end="2016-01-01", reason="patient preference"),
        undated,
        statement("adalimumab", start="2022-01-01", end="2023-01-01", reason="lost response"),
    ])
    assert [c.stop_reason for c in courses] == [ADHERENCE, SECONDARY]
    assert "MedicationStatement/ms-undated" in courses[1].sources
    assert "MedicationStatement/ms-undated" not in courses[0].sources


def test_undated_course_has_no_trial_length_and_is_never_read_as_an_inadequate_trial():
    ev = evaluate(hook_input(statements=[statement("adalimumab"), statement("adalimumab")]))
    [c] = ev.history
    assert c.start is None and c.end is None and c.duration_days is None
    assert c.stop_reason == UNKNOWN  # an unknown length is not "shorter than 12 weeks"
    assert any("no start date" in n for n in ev.notes)


def test_an_undated_reorder_is_not_read_as_the_latest_order_of_a_stopped_course():
    [c] = history(requests=[request("adalimumab", authored="2023-01-05", status="stopped"),
                            request("adalimumab", status="stopped")])
    assert c.start.isoformat() == "2023-01-05"
    assert c.end is None and c.duration_days is None


def test_a_stopped_record_without_an_end_reaches_only_its_start_when_courses_merge():
    near = history(statements=[statement("adalimumab", start="2020-01-01"),
                               statement("adalimumab", start="2020-04-20", end="2021-01-01")])
    far = history(statements=[statement("adalimumab", start="2020-01-01"),
                              statement("adalimumab", start="2020-05-01", end="2021-01-01")])
    assert len(near) == 1 and near[0].start.isoformat() == "2020-01-01"  # 110 days after its start: one course
    assert len(far) == 2  # 121 days after (> merge_gap_days = 120): the first is a course of its own


def test_an_active_record_without_an_end_reaches_today_when_courses_merge():
    courses = history(statements=[statement("adalimumab", status="active", start="2020-01-01"),
                                  statement("adalimumab", start="2026-06-01", end="2026-07-01", reason="lost response")])
    [c] = courses
    assert c.start.isoformat() == "2020-01-01" and len(c.sources) == 2


def test_entered_in_error_statement_is_ignored():
    courses = history(statements=[statement("adalimumab", status="entered-in-error", start="2022-01-01",
                                            end="2023-01-01", reason="not effective")])
    assert courses == ()


def test_active_status_with_past_end_date_is_read_as_stopped_and_noted():
    ev = evaluate(hook_input(statements=[statement("adalimumab", status="active", start="2020-01-01",
                                                   end="2021-01-01", reason="lost response")]))
    [c] = ev.history
    assert c.status == "stopped" and c.stop_reason == SECONDARY
    assert any("period ended" in n for n in ev.notes)


def test_one_bad_resource_keeps_the_others():
    bad = [
        {"resourceType": "MedicationStatement", "status": 7, "medicationCodeableConcept": "etanercept"},
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"coding": "nope"}, "effectivePeriod": []},
        {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"text": "adalimumab"},
         "effectivePeriod": {"start": 20200101, "end": "not-a-date"}, "statusReason": "lost response"},
        None, "garbage", 42,
    ]
    good = statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason="Not effective - no relief")
    ev = evaluate(hook_input(statements=[*bad, good]))
    upa = course_of(ev.history, "upadacitinib")
    assert upa.stop_reason == PRIMARY
    assert any(c.drug == "adalimumab" for c in ev.history)  # partially read: drug known, dates unknown


def test_wrong_types_everywhere_never_raise():
    weird = [{"resourceType": "Condition", "code": [], "clinicalStatus": "active"},
             {"resourceType": "Condition", "code": {"coding": [None, 5, {"code": 9631008}]}},
             {"resourceType": "AllergyIntolerance", "code": None, "reaction": [None, {"manifestation": "x"}]}]
    ev = evaluate(hook_input(conditions=[condition(snomed="9631008"), *weird], allergies=weird,
                             statements=weird, requests=weird))
    assert ev.diagnosis == "AS"


def test_record_order_does_not_change_the_history():
    stmts = [statement("etanercept", start="2024-01-10", end="2024-03-01", reason="injection site reaction", id="a"),
             statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason="not effective", id="b"),
             statement("celecoxib", status="active", start="2023-06-01", id="c"),
             statement("adalimumab", reason="lost response", id="d")]
    first = history(statements=stmts)
    assert history(statements=list(reversed(stmts))) == first
    assert [c.drug for c in first] == ["celecoxib", "etanercept", "upadacitinib", "adalimumab"]  # undated last


# ------------------------------------------------------------------- what the record says, read as it is meant


def test_renal_failure_is_not_drug_failure():
    c = course_of(history(statements=[statement("adalimumab", start="2021-01-01", end="2022-01-01",
                                                reason="Stopped due to acute renal failure")]), "adalimumab")
    assert c.stop_reason == UNKNOWN and not c.failed and not c.not_tolerated and not c.counts_for_jak_label
    assert c.outcome == UNCLASSIFIED_LABEL and c.evidence == ("Stopped due to acute renal failure",)


def test_liver_failure_linked_to_the_drug_is_a_serious_adverse_event():
    c = course_of(history(statements=[statement("tofacitinib", start="2023-01-01", end="2023-08-01",
                                                reason="Liver failure, thought drug-induced")]), "tofacitinib")
    assert c.stop_reason == AE and c.not_tolerated and c.serious
    assert c.outcome.endswith("; serious")


def test_prior_authorization_failed_is_access_not_failure():
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2023-01-01",
                                                reason="Prior authorization failed")]), "adalimumab")
    assert c.stop_reason == ACCESS and not c.failed


def test_failed_to_refill_is_adherence_not_primary_nonresponse():
    c = course_of(history(statements=[statement("etanercept", start="2022-01-01", end="2023-01-01",
                                                reason="failed to refill; non-adherent")]), "etanercept")
    assert c.stop_reason == ADHERENCE and not c.failed


def test_cost_stop_never_counts_for_jak_label():
    tnfi = statement("adalimumab", start="2022-01-01", end="2023-01-01", reason="too expensive")
    ev = evaluate(hook_input("upadacitinib", statements=[tnfi]))
    c = course_of(ev.history, "adalimumab")
    assert c.stop_reason == ACCESS and not c.counts_for_jak_label
    [card] = ev.cards
    assert card.source.topic is not None and card.source.topic.code == "jak_after_tnfi_label", \
        "a TNF blocker stopped for cost does not meet the JAK label"


def test_a_failed_tnfi_does_count_for_jak_label():
    tnfi = statement("adalimumab", start="2022-01-01", end="2022-07-01", reason="no improvement")
    c = course_of(history(statements=[tnfi]), "adalimumab")
    assert c.counts_for_jak_label


def test_without_side_effects_is_not_an_adverse_event():
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2023-01-01",
                                                reason="Stopped without side effects")]), "adalimumab")
    assert c.stop_reason == UNKNOWN and not c.not_tolerated


def test_lost_response_after_years_of_good_control_is_secondary_not_primary():
    c = course_of(history(statements=[statement(
        "adalimumab", start="2019-01-01", end="2022-03-01",
        reason="lost response after 3 years of good control; not effective anymore")]), "adalimumab")
    assert c.stop_reason == SECONDARY


def test_indication_on_past_order_is_not_a_stop_reason():
    orders = [request("adalimumab", authored=f"2023-{m:02d}-05", status="completed") for m in range(1, 9)]
    for order in orders:
        order["reasonCode"] = [{"text": "Ankylosing spondylitis with inadequate response to NSAIDs"}]
    orders.append(request("adalimumab", authored="2023-09-05", status="stopped"))
    [c] = history(requests=orders)
    assert c.stop_reason == UNKNOWN and not c.failed
    assert c.evidence == ()


def test_prior_auth_note_is_not_a_stop_reason():
    c = course_of(history(statements=[statement("secukinumab", start="2022-01-01", end="2023-01-01",
                                                note="PA approved: failed 2 NSAIDs")]), "secukinumab")
    assert c.stop_reason == UNKNOWN and not c.failed


def test_note_about_another_drug_is_not_this_drugs_stop_reason():
    note = "Enbrel caused an injection site reaction in 2019"
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2023-01-01", note=note)]),
                  "adalimumab")
    assert c.stop_reason == UNKNOWN and not c.not_tolerated


def test_note_stating_why_this_drug_stopped_is_read():
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2023-01-01",
                                                note="PA approved 2021. Stopped because of recurrent pneumonia")]),
                  "adalimumab")
    assert c.stop_reason == INFECTION and not c.failed and not c.not_tolerated
    assert c.evidence == ("PA approved 2021. Stopped because of recurrent pneumonia",)


def test_switch_note_naming_the_new_drug_keeps_the_reason():
    c = course_of(history(statements=[statement("adalimumab", start="2022-01-01", end="2022-07-01",
                                                note="Switched to Cosentyx due to lack of efficacy")]), "adalimumab")
    assert c.stop_reason == PRIMARY


def _coded(system: str, code: str, resource: str = "MedicationStatement") -> dict:
    if resource == "MedicationStatement":
        res = statement("golimumab", start="2022-01-01", end="2023-01-01")
        res["statusReason"] = [{"coding": [{"system": system, "code": code}]}]
    else:
        res = request("golimumab", authored="2022-01-01", end="2023-01-01", status="stopped")
        res["statusReason"] = {"coding": [{"system": system, "code": code}]}
    return res


def test_coded_only_snomed_too_expensive_is_access():
    c = course_of(history(statements=[_coded("http://snomed.info/sct", "182872003")]), "golimumab")
    assert c.stop_reason == ACCESS and c.evidence == ("Drug discontinued - too expensive (SNOMED CT 182872003)",)


def test_coded_only_hl7_sintol_on_a_medication_request_is_adverse_event():
    res = _coded("http://terminology.hl7.org/CodeSystem/medicationrequest-status-reason", "sintol", "MedicationRequest")
    c = course_of(history(requests=[res]), "golimumab")
    assert c.stop_reason == AE and c.not_tolerated


def test_code_under_another_system_is_not_read():
    c = course_of(history(statements=[_coded("http://loinc.org", "182872003")]), "golimumab")
    assert c.stop_reason == UNKNOWN


def test_dstu2_medication_order_reason_ended_is_a_stop_reason():
    order = {"resourceType": "MedicationOrder", "id": "mo-1", "status": "stopped", "dateWritten": "2022-01-01",
             "medicationCodeableConcept": concept("infliximab"), "note": "stopped after an infusion reaction",
             "reasonEnded": {"text": "Infusion reaction"}, "reasonCodeableConcept": {"text": "Ankylosing spondylitis"}}
    [r] = read_medications(knowledge(), [order], [])
    assert r.stop_texts == ("Infusion reaction",) and r.indications == ("Ankylosing spondylitis",)
    assert r.notes == ("stopped after an infusion reaction",)


def test_stop_codes_keep_their_systems_and_reason_code_is_the_indication():
    res = request("adalimumab", authored="2022-01-01", status="stopped")
    res["statusReason"] = {"coding": [{"system": "http://snomed.info/sct", "code": "182872003", "display": "Too dear"}]}
    res["reasonCode"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "9631008"}], "text": "AS"}]
    res["reasonReference"] = [{"reference": "Condition/c-as", "display": "Ankylosing spondylitis"}]
    [r] = read_medications(knowledge(), [res], [])
    assert [(c.system, c.code, c.display) for c in r.stop_codes] == [
        ("http://snomed.info/sct", "182872003", "Too dear")]
    assert r.stop_texts == ("Too dear",)
    assert r.indications == ("AS", "Ankylosing spondylitis")


def test_serious_infection_stop_is_infection_not_failure():
    c = course_of(history(statements=[statement("infliximab", start="2022-01-01", end="2022-09-01",
                                                reason="sepsis, admitted to ICU")]), "infliximab")
    assert c.stop_reason == INFECTION and c.serious
    assert not c.failed and not c.not_tolerated and not c.not_a_failure
    assert c.counts_for_jak_label, "a serious infection is intolerance in the JAK labels' sense"


def test_pregnancy_stop_is_not_failure_and_shown_as_pregnancy():
    c = course_of(history(statements=[statement("certolizumab", start="2022-01-01", end="2023-01-01",
                                                reason="planning pregnancy")]), "certolizumab")
    assert c.stop_reason == PREGNANCY and c.not_a_failure and not c.counts_for_jak_label
    assert c.outcome == OUTCOME_LABELS[PREGNANCY]


def test_surgery_hold_then_flare_is_a_hold_not_lost_response():
    c = course_of(history(statements=[statement("adalimumab", start="2020-01-01", end="2023-01-01",
                                                reason="held for hip replacement, flared after")]), "adalimumab")
    assert c.stop_reason == TEMPORARY and not c.failed


def test_every_stop_that_is_no_failure_is_shown_as_what_it_was():
    for reason in NOT_FAILURE:
        label = OUTCOME_LABELS[reason]
        assert "not" in label and "failure" in label, label


def test_history_card_evidence_column_shows_the_deciding_record_text():
    tnfi = statement("adalimumab", start="2022-01-01", end="2023-01-01", reason="too expensive")
    [card] = evaluate(hook_input("upadacitinib", statements=[tnfi])).cards
    row = next(line for line in (card.detail or "").splitlines() if line.startswith("| adalimumab"))
    assert "stopped for cost or access (not failure)" in row and "too expensive" in row


def test_allergy_reaction_is_read_for_adverse_events_only():
    c = course_of(history(statements=[statement("etanercept", start="2022-01-01", end="2022-09-01")],
                          allergies=[allergy("etanercept", reaction="too expensive and painful injection site")]),
                  "etanercept")
    assert c.stop_reason == AE_LOCAL


def test_history_settings_live_in_stop_reasons_toml_not_rules_toml():
    with (KNOWLEDGE_DIR / "rules.toml").open("rb") as fh:
        rules = tomllib.load(fh)
    assert "history" not in rules and "stop_reasons" not in rules
    with (KNOWLEDGE_DIR / "stop_reasons.toml").open("rb") as fh:
        assert set(tomllib.load(fh)["history"]) == {"adequate_trial_weeks", "long_course_weeks", "merge_gap_days"}


def test_monthly_refills_with_a_prior_auth_note_still_read_the_stop_reason():
    reqs = [request("secukinumab", authored=f"2023-{m:02d}-05", status="completed") for m in range(1, 8)]
    reqs[0]["note"] = [{"text": "PA approved: failed 2 NSAIDs, inadequate response"}]
    reqs.append(request("secukinumab", authored="2023-08-05", status="stopped", reason="injection site reaction"))
    [c] = history(requests=reqs)
    assert c.stop_reason == AE_LOCAL and c.evidence == ("injection site reaction",)
