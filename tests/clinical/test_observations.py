"""Reading Observations tolerantly into typed results: value as CodeableConcept, Quantity or string; the date from
effectiveDateTime, effectivePeriod or issued; only final / amended / corrected results; the IGRA mitogen control
never read as a TB result."""

from __future__ import annotations

from datetime import date

from axspa_builders import TODAY, condition, observation

from hooks.knowledge import knowledge
from hooks.observations import latest, read_observations
from hooks.status import read_status


def read(*resources):
    notes: list[str] = []
    return read_observations(knowledge(), resources, notes), notes


def igra(**fields):
    res = {"resourceType": "Observation", "id": fields.pop("id", "o1"), "status": fields.pop("status", "final"),
           "code": fields.pop("code", {"coding": [{"system": "http://loinc.org", "code": "71773-6"}]})}
    res.update(fields)
    return res


def test_coded_string_boolean_and_interpretation_values_are_read():
    (coded,), _ = read(observation("igra", "negative", when="2026-05-02"))
    assert (coded.kind, coded.value, coded.when) == ("igra", "negative", date(2026, 5, 2))
    (text,), _ = read(igra(valueString="POSITIVE (TB1 0.71 IU/mL)", effectiveDateTime="2026-05-02"))
    assert text.value == "positive" and not text.by_verified_code
    (flag,), _ = read(igra(valueBoolean=False, issued="2026-05-02T10:00:00Z"))
    assert flag.value == "negative" and flag.when == date(2026, 5, 2)
    interpreted = igra(valueQuantity={"value": 0.9, "unit": "IU/mL"},
                       interpretation=[{"coding": [{"code": "POS"}]}], effectivePeriod={"start": "2026-05-01"})
    (q,), _ = read(interpreted)
    assert q.value == "positive" and q.quantity == 0.9 and q.when == date(2026, 5, 1)


def test_a_quantitative_tb_result_without_interpretation_is_not_read_as_negative():
    (q,), _ = read(igra(valueQuantity={"value": 0.2, "unit": "IU/mL"}, effectiveDateTime="2026-05-02"))
    assert q.value == "unknown"


def test_only_final_amended_or_corrected_results_count():
    found, notes = read(*(igra(id=f"o-{s}", status=s, valueString="negative")
                          for s in ("final", "amended", "corrected", "preliminary", "registered", "entered-in-error")))
    assert sorted(r.ref for r in found) == ["Observation/o-amended", "Observation/o-corrected", "Observation/o-final"]
    assert any("not final" in n for n in notes)


def test_the_igra_mitogen_control_is_skipped_and_noted():
    found, notes = read(observation("igra-mitogen", quantity=9.1, unit="[IU]/mL"))
    assert found == [] and any("71774-4" in n and "mitogen" in n for n in notes)


def test_observations_named_only_by_text_are_recognised_and_marked_unverified():
    (r,), _ = read(igra(code={"text": "QuantiFERON-TB Gold Plus"}, valueString="Negative", effectiveDateTime="2026-04-01"))
    assert r.kind == "igra" and r.value == "negative" and not r.by_verified_code


def test_malformed_observations_never_raise():
    found, notes = read({"resourceType": "Observation", "code": "71773-6"}, {"resourceType": "Observation"}, None, 5,
                        igra(valueCodeableConcept="negative"))
    assert [r.value for r in found] == ["unknown"]


def test_latest_prefers_the_most_recent_dated_result():
    results, _ = read(observation("igra", "positive", when="2025-01-01", id="a"),
                      observation("igra", "negative", when="2026-01-01", id="b"),
                      observation("igra", "indeterminate", when=None, id="c"))
    assert latest(results, "igra").ref == "Observation/b"


def status_of(*observations, conditions=(), sex="female"):
    kb = knowledge()
    from hooks.record import read_conditions
    notes: list[str] = []
    findings = read_conditions(kb, conditions, notes)
    results = read_observations(kb, observations, notes)
    return read_status(kb, findings, results, (), sex, TODAY, notes), notes


def test_smoking_status_current_former_never_unknown():
    for answer, expected in (("current every day smoker", "current"), ("current some day smoker", "current"),
                             ("former smoker", "former"), ("never smoker", "never")):
        status, _ = status_of(observation("smoking", answer))
        assert status.smoking.status == expected, answer
    status, _ = status_of()
    assert status.smoking.status == "not recorded" and not status.smoking.smoker


def test_pregnancy_status_by_value_with_the_latest_winning():
    status, _ = status_of(observation("pregnancy", "not pregnant", when="2026-06-01", id="a"),
                          observation("pregnancy", "pregnant", when="2026-10-01", id="b"))
    assert status.pregnancy.status == "pregnant"
    status, _ = status_of(observation("pregnancy", "pregnant", when="2026-06-01", id="a"),
                          observation("pregnancy", "not pregnant", when="2026-10-01", id="b"))
    assert status.pregnancy.status == "not-pregnant" and not status.pregnancy.counts


def test_gestational_age_from_z3a_advances_to_today():
    status, _ = status_of(conditions=[condition("pregnant-24-weeks", recorded="2026-11-03")])
    assert status.pregnancy.weeks == 27


def test_crp_is_read_with_its_unit():
    (crp,), _ = read(observation("crp", quantity=14, unit="mg/L", when="2026-10-01"))
    assert crp.kind == "crp" and crp.quantity == 14 and crp.text == "14 mg/L"
