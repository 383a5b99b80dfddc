"""Therapy history: record reading, course merging and stop-reason classification."""

from __future__ import annotations

from hooks.engine import evaluate
from hooks.history import AE, AE_CLASS, AE_LOCAL, ALLERGY, INADEQUATE, OTHER, PRIMARY, SECONDARY, UNKNOWN

from axspa_builders import allergy, condition, hook_input, request, statement


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


def test_cost_is_other_not_failure():
    c = course_of(history(statements=[statement("golimumab", start="2021-01-01", end="2022-01-01",
                                                reason="Insurance stopped coverage")]), "golimumab")
    assert c.stop_reason == OTHER and not c.failed


def test_no_side_effects_is_not_an_adverse_event():
    c = course_of(history(statements=[statement("adalimumab", start="2021-01-01", end="2022-01-01",
                                                reason="No side effects but not effective")]), "adalimumab")
    assert c.stop_reason == PRIMARY


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
    assert c.stop_reason == PRIMARY
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
    assert [c.stop_reason for c in courses] == [OTHER, SECONDARY]


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
