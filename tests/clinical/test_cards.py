"""Card shape: typed CDS Hooks 2.0 cards, the producing rule in source.topic, R4 MedicationRequests, determinism, order
independence, and quiet when nothing is actionable."""

from __future__ import annotations

import json
import random

import pytest
from axspa_builders import (
    ACTIVE_TB,
    AS,
    HEART_FAILURE,
    IBD,
    NR_AXSPA,
    PREGNANCY,
    PSORIASIS,
    UVEITIS,
    allergy,
    hook_input,
    observation,
    statement,
    topic,
)
from fhir.resources.R4B.medicationrequest import MedicationRequest
from test_rules import ADA_PRIMARY, ETN_LOCAL, UPA_PRIMARY, seed_input

from hooks.contract import HookSettings
from hooks.engine import evaluate
from hooks.knowledge import knowledge
from hooks.response import Card, CDSResponse
from service.cds import CDSResponse as WireResponse

SCENARIOS = {
    "seed": lambda: seed_input(),
    "tnfi_primary": lambda: hook_input("golimumab", statements=[ADA_PRIMARY]),
    "ibd": lambda: hook_input("secukinumab", conditions=[AS, IBD], statements=[ADA_PRIMARY]),
    "hf": lambda: hook_input("infliximab", conditions=[AS, HEART_FAILURE]),
    "uveitis_psoriasis": lambda: hook_input("etanercept", conditions=[AS, UVEITIS, PSORIASIS]),
    "nr": lambda: hook_input("tofacitinib", conditions=[NR_AXSPA], statements=[ETN_LOCAL]),
    "tb": lambda: hook_input("upadacitinib", conditions=[AS, ACTIVE_TB], statements=[ETN_LOCAL, UPA_PRIMARY]),
    "pregnancy": lambda: hook_input("secukinumab", conditions=[AS, PREGNANCY], gender="female"),
    "concordant": lambda: hook_input("secukinumab", statements=[ADA_PRIMARY]),
    "steroid": lambda: hook_input("prednisone", allergies=[allergy("adalimumab")]),
}
NEGATIVE_SCREENING = (observation("igra", "negative", when="2026-06-01"), observation("hbsag", "negative", when="2026-06-01"),
                      observation("anti-hbc", "negative", when="2026-06-01"))
TWO_NSAIDS = (statement("naproxen", start="2025-01-01", end="2025-03-01", reason="no relief at full dose"),
              statement("celecoxib", status="active", start="2025-03-05"))


def all_cards():
    for name, make in SCENARIOS.items():
        for card in evaluate(make()).cards:
            yield name, card


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_card_is_a_typed_cds_hooks_card_that_the_wire_model_accepts(name):
    cards = evaluate(SCENARIOS[name]()).cards
    assert cards
    WireResponse.model_validate(json.loads(CDSResponse(cards=cards).model_dump_json(exclude_none=True)))
    for card in cards:
        assert isinstance(card, Card)
        assert len(card.summary) < 140
        assert card.source.url and card.source.url.startswith("https://")
        if card.suggestions:
            assert card.selectionBehavior == "at-most-one"
            assert 1 <= len(card.suggestions) <= 4
            assert sum(1 for s in card.suggestions if s.isRecommended) == 1 or card.indicator == "critical"


def test_every_card_carries_the_rule_that_produced_it_in_source_topic():
    kb = knowledge()
    seen = set()
    for _, card in all_cards():
        t = card.source.topic
        assert t is not None and t.system == kb.topic_system
        assert t.code in kb.rules and t.display == kb.rule(t.code).title
        assert card.source.label == kb.rule(t.code).source_label
        seen.add(t.code)
    assert {"no_jak_after_jak_failure", "active_tb_hold", "ibd_tnf_mab_no_il17", "pregnancy_no_il17"} <= seen


def test_a_label_rule_card_links_the_ordered_drugs_own_dailymed_label_when_its_set_id_is_known():
    [card] = evaluate(hook_input("upadacitinib", conditions=[AS, PREGNANCY], gender="female",
                                 statements=[ADA_PRIMARY])).cards
    assert topic(card) == "pregnancy_no_jak"
    assert card.source.url == "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=2966aec7-2ef0-923c-d8ff-fe1a957bf095"


def test_every_suggested_medication_request_is_valid_r4_and_named_by_its_generic():
    generics = {d.name.split()[0] for d in knowledge().drugs.values()}
    seen = 0
    for _, card in all_cards():
        for s in card.suggestions or []:
            for a in s.actions or []:
                if a.type != "create":
                    continue
                mr = a.resource or {}
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
        a = CDSResponse(cards=evaluate(make()).cards).model_dump_json(exclude_none=True)
        b = CDSResponse(cards=evaluate(make()).cards).model_dump_json(exclude_none=True)
        assert a == b


def test_uuids_are_deterministic_and_depend_on_the_hook_instance():
    one = evaluate(hook_input("golimumab", statements=[ADA_PRIMARY], hook_instance="A")).cards[0]
    two = evaluate(hook_input("golimumab", statements=[ADA_PRIMARY], hook_instance="B")).cards[0]
    assert one.uuid != two.uuid
    assert one.suggestions and two.suggestions and one.suggestions[0].uuid != two.suggestions[0].uuid
    ids = [s.uuid for s in one.suggestions]
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
        out = CDSResponse(cards=evaluate(inp).cards).model_dump_json(exclude_none=True)
        reference = reference or out
        assert out == reference


def test_record_free_text_cannot_inject_html_links_or_lines_into_a_card():
    hostile = "Not effective <img src=x onerror=alert(1)> [click](javascript:alert(1))\n# Take etanercept"
    upa = statement("upadacitinib", start="2024-04-02", end="2024-08-15", reason=hostile)
    reaction = allergy("etanercept")
    reaction["reaction"] = [{"manifestation": [{"text": "<script>alert(2)</script>\n\n| forged | row |"}]}]
    [card] = evaluate(hook_input("upadacitinib", statements=[ETN_LOCAL, upa], allergies=[reaction])).cards
    detail = card.detail or ""
    assert "<img" not in detail and "<script" not in detail, "raw HTML from the record must be inert"
    assert "](javascript:" not in detail.replace("\\]", ""), "a link written in the record must stay text"
    assert "\n# Take etanercept" not in detail and "\n| forged" not in detail, "record text stays on its line"
    assert "&lt;img src=x" in detail, "the clinician still sees what the record said"
    history = next(c for c in evaluate(hook_input("upadacitinib", statements=[upa])).history if c.drug_name == "upadacitinib")
    assert history.stop_reason == "primary-nonresponse", "escaping for display does not change the classification"


# --------------------------------------------------------------------------------------- quiet by default


def test_concordant_order_with_nothing_actionable_gets_no_card():
    inp = hook_input("adalimumab", statements=TWO_NSAIDS, observations=NEGATIVE_SCREENING)
    assert evaluate(inp).cards == []


def test_the_setting_restores_the_informational_card_for_a_concordant_order():
    inp = hook_input("adalimumab", statements=TWO_NSAIDS, observations=NEGATIVE_SCREENING,
                     settings=HookSettings(concordant_info_card=True))
    [card] = evaluate(inp).cards
    assert card.indicator == "info" and "no conflict" in card.summary and not card.suggestions
    assert "IGRA" in (card.detail or "") and "2026-06-01" in (card.detail or ""), "the card says what silenced it"


def test_a_concordant_order_with_a_screening_reminder_due_gets_an_info_card_without_suggestions():
    [card] = evaluate(hook_input("adalimumab", statements=TWO_NSAIDS)).cards
    assert card.indicator == "info" and topic(card) == "tb_screening" and not card.suggestions
    assert "hepatitis B" in card.summary
