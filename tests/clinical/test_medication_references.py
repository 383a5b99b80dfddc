"""A drug named through a Medication resource: ``#contained``, a Medication of the same Bundle or of the prefetch
(matched by fullUrl, ``Medication/<id>``, an absolute URL or a ``urn:uuid``), or one the service read. A reference
nothing answers is said in the card's "uncertain" section; a draft ordered by reference only is still recognised when
its Medication is at hand."""

from __future__ import annotations

from typing import Any

import pytest
from axspa_builders import RXNORM, draft, hook_input, statement

from hooks.contract import MedicationEntry
from hooks.engine import evaluate, is_relevant_order

BASE = "https://ehr.example.org/fhir"
UUID = "urn:uuid:7c1f0d2e-5b3a-4c8e-9f10-0a1b2c3d4e5f"


def medication(mid: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": RXNORM, "code": code}
    if display:
        coding["display"] = display
    med: dict[str, Any] = {"resourceType": "Medication", "code": {"coding": [coding]}}
    if mid:
        med["id"] = mid
    return med


def by_reference(resource: dict[str, Any], reference: str) -> dict[str, Any]:
    """``resource`` naming its drug only by a reference (no codeable concept, no display)."""
    out = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
    out["medicationReference"] = {"reference": reference}
    return out


def failed_adalimumab(reference: str) -> dict[str, Any]:
    return by_reference(statement("adalimumab", start="2023-01-10", end="2023-07-20",
                                  reason="no improvement after 6 months", id="ms-ada"), reference)


ADALIMUMAB = medication("med-ada", "1872980")  # coded by the Humira pen SBD only


@pytest.mark.parametrize(("reference", "entry"), [
    ("Medication/med-ada", MedicationEntry(ADALIMUMAB, f"{BASE}/Medication/med-ada")),
    (f"{BASE}/Medication/med-ada", MedicationEntry(ADALIMUMAB, f"{BASE}/Medication/med-ada")),
    (f"{BASE}/Medication/med-ada/_history/3", MedicationEntry(ADALIMUMAB)),
    ("Medication/med-ada", MedicationEntry(ADALIMUMAB)),  # read by id: no fullUrl
    (UUID, MedicationEntry(medication(None, "1872980"), UUID)),  # Synthea: a Bundle-local urn:uuid, no id
    (UUID.upper().replace("URN:UUID", "urn:uuid"), MedicationEntry(medication(None, "1872980"), UUID)),
], ids=["relative", "absolute", "history", "read-by-id", "urn-uuid", "urn-uuid-case"])
def test_a_history_named_by_reference_is_read_through_its_medication(reference, entry):
    evaluation = evaluate(hook_input("adalimumab", statements=[failed_adalimumab(reference)], medications=(entry,)))
    assert [(c.drug, c.outcome) for c in evaluation.history] == [("adalimumab", "primary non-response")]
    assert evaluation.cards, "re-ordering a drug that failed for primary non-response warns"


def test_a_contained_medication_is_read_in_place():
    record = failed_adalimumab("#m1")
    record["contained"] = [{**medication("m1", "1872980", "Humira 40 MG/0.4ML pen"), "id": "m1"}]
    evaluation = evaluate(hook_input("adalimumab", statements=[record]))
    assert [c.drug for c in evaluation.history] == ["adalimumab"]


def test_a_reference_nothing_answers_is_said_in_the_uncertain_section():
    evaluation = evaluate(hook_input("upadacitinib", statements=[failed_adalimumab("Medication/never-sent")]))
    assert evaluation.history == ()
    note = next(n for n in evaluation.notes if "could not be read" in n)
    assert "Medication/never-sent" in note and "therapy history may be incomplete" in note
    [card] = evaluation.cards
    uncertain = (card.detail or "").split("Uncertain in the record", 1)[1]
    assert "Medication/never-sent" in uncertain


def test_a_missing_contained_medication_is_unresolved_too():
    evaluation = evaluate(hook_input("upadacitinib", statements=[failed_adalimumab("#gone")]))
    assert any("#gone" in n for n in evaluation.notes)


def test_a_reference_with_a_display_needs_no_medication():
    record = failed_adalimumab("Medication/never-sent")
    record["medicationReference"]["display"] = "Humira 40 mg pen"
    evaluation = evaluate(hook_input("adalimumab", statements=[record]))
    assert [c.drug for c in evaluation.history] == ["adalimumab"]
    assert not any("could not be read" in n for n in evaluation.notes)


def test_a_draft_ordered_by_reference_only_is_recognised_when_its_medication_is_at_hand():
    order = by_reference(draft("upadacitinib", id="d1"), "Medication/med-rinvoq")
    rinvoq = MedicationEntry(medication("med-rinvoq", "2196092"), f"{BASE}/Medication/med-rinvoq")
    selection = ("MedicationRequest/d1",)
    assert not is_relevant_order("order-select", {"resourceType": "Bundle", "entry": [{"resource": order}]}, selection)
    assert is_relevant_order("order-select", {"resourceType": "Bundle", "entry": [{"resource": order}]}, selection,
                             (rinvoq,))
    assert evaluate(hook_input(order, medications=(rinvoq,))).cards
    assert evaluate(hook_input(order)).cards == []


def test_a_draft_whose_medication_travels_in_draft_orders_is_recognised():
    order = by_reference(draft("upadacitinib", id="d1"), UUID)
    bundle = {"resourceType": "Bundle", "entry": [{"resource": order},
                                                  {"fullUrl": UUID, "resource": medication(None, "2196092")}]}
    assert is_relevant_order("order-select", bundle, ("MedicationRequest/d1",))


def test_a_dstu2_medication_order_by_reference_is_read_too():
    order = by_reference(draft("upadacitinib", id="order-123", resource_type="MedicationOrder"), "Medication/m9")
    assert is_relevant_order("order-select", {"resourceType": "Bundle", "entry": [{"resource": order}]},
                             ("MedicationOrder/order-123",), (MedicationEntry(medication("m9", "2196092")),))
