"""Card shape: CDS Hooks 2.0 validity, R4 MedicationRequests, determinism and order independence."""

from __future__ import annotations

import json
import random

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from hooks.engine import evaluate
from hooks.knowledge import knowledge
from service.cds import Card

from axspa_builders import (
    ACTIVE_TB, AS, HEART_FAILURE, IBD, NR_AXSPA, PSORIASIS, UVEITIS, allergy, hook_input, statement,
)
from test_rules import ADA_PRIMARY, ETN_LOCAL, UPA_PRIMARY, seed_input

SCENARIOS = {
    "seed": lambda: seed_input(),
    "tnfi_primary": lambda: hook_input("golimumab", statements=[ADA_PRIMARY]),
    "ibd": lambda: hook_input("secukinumab", conditions=[AS, IBD], statements=[ADA_PRIMARY]),
    "hf": lambda: hook_input("infliximab", conditions=[AS, HEART_FAILURE]),
    "uveitis_psoriasis": lambda: hook_input("etanercept", conditions=[AS, UVEITIS, PSORIASIS]),
    "nr": lambda: hook_input("tofacitinib", conditions=[NR_AXSPA], statements=[ETN_LOCAL]),
    "tb": lambda: hook_input("upadacitinib", conditions=[AS, ACTIVE_TB], statements=[ETN_LOCAL, UPA_PRIMARY]),
    "concordant": lambda: hook_input("secukinumab", statements=[ADA_PRIMARY]),
    "steroid": lambda: hook_input("prednisone", allergies=[allergy("adalimumab")]),
}


def all_cards():
    for name, make in SCENARIOS.items():
        for card in evaluate(make()).cards:
            yield name, card


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_card_validates_against_the_cds_hooks_model(name):
    cards = evaluate(SCENARIOS[name]()).cards
    assert cards
    for card in cards:
        Card.model_validate(card)
        assert len(card["summary"]) < 140
        assert card["source"]["url"].startswith("https://")
        if card.get("suggestions"):
            assert card["selectionBehavior"] == "at-most-one"
            assert 1 <= len(card["suggestions"]) <= 4
            assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) == 1 or card["indicator"] == "critical"


def test_every_suggested_medication_request_is_valid_r4_and_named_by_its_generic():
    generics = {d.name.split()[0] for d in knowledge().drugs.values()}
    seen = 0
    for _, card in all_cards():
        for s in card.get("suggestions", []):
            for a in s["actions"]:
                if a["type"] != "create":
                    continue
                mr = a["resource"]
                MedicationRequest.model_validate(mr)
                assert mr["status"] == "draft" and mr["intent"] == "order"
                assert mr["subject"]["reference"].startswith("Patient/")
                text = mr["medicationCodeableConcept"]["text"]
                first = text.split(" ")[0]
                assert first == first.lower() and first in generics and text.startswith(first + " ")
                assert mr["dosageInstruction"][0]["text"]
                for coding in mr["medicationCodeableConcept"].get("coding", []):
                    assert coding["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
                seen += 1
    assert seen >= 10


def test_same_request_gives_identical_json():
    for make in SCENARIOS.values():
        a = json.dumps(evaluate(make()).cards, sort_keys=True)
        b = json.dumps(evaluate(make()).cards, sort_keys=True)
        assert a == b


def test_uuids_are_deterministic_and_depend_on_the_hook_instance():
    one = evaluate(hook_input("golimumab", statements=[ADA_PRIMARY], hook_instance="A")).cards[0]
    two = evaluate(hook_input("golimumab", statements=[ADA_PRIMARY], hook_instance="B")).cards[0]
    assert one["uuid"] != two["uuid"]
    assert one["suggestions"][0]["uuid"] != two["suggestions"][0]["uuid"]
    ids = [s["uuid"] for s in one["suggestions"]]
    assert len(set(ids)) == len(ids)


def test_evaluation_is_independent_of_resource_order():
    base = seed_input()
    extra = [statement("adalimumab", start="2018-01-01", end="2019-06-01", reason="patient preference"),
             statement("naproxen", status="stopped", start="2017-01-01", end="2017-06-01"),
             statement("celecoxib", status="active", start="2023-06-01")]
    stmts = list(base.data.medication_statements) + extra
    conds = list(base.data.conditions) + [PSORIASIS]
    reference = None
    rng = random.Random(7)
    for _ in range(6):
        rng.shuffle(stmts)
        rng.shuffle(conds)
        inp = hook_input("upadacitinib", statements=stmts, conditions=conds, allergies=base.data.allergies)
        out = json.dumps(evaluate(inp).cards, sort_keys=True)
        reference = reference or out
        assert out == reference


def test_record_free_text_cannot_inject_html_links_or_lines_into_a_card():
    hostile = "Not effective <img src=x onerror=alert(1)> [click](javascript:alert(1))\n# Take etanercept"
    upa = statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason=hostile)
    reaction = allergy("etanercept")
    reaction["reaction"] = [{"manifestation": [{"text": "<script>alert(2)</script>\n\n| forged | row |"}]}]
    [card] = evaluate(hook_input("upadacitinib", statements=[ETN_LOCAL, upa], allergies=[reaction])).cards
    detail = card["detail"]
    assert "<img" not in detail and "<script" not in detail, "raw HTML from the record must be inert"
    assert "](javascript:" not in detail.replace("\\]", ""), "a link written in the record must stay text"
    assert "\n# Take etanercept" not in detail and "\n| forged" not in detail, "record text stays on its line"
    assert "&lt;img src=x" in detail, "the clinician still sees what the record said"
    history = next(c for c in evaluate(hook_input("upadacitinib", statements=[upa])).history if c.drug_name == "upadacitinib")
    assert history.stop_reason == "primary-nonresponse", "escaping for display does not change the classification"
