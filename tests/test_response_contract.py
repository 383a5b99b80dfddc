"""Every card the hook builds passes the strict CDS Hooks 2.0 response models.

The card builders (hooks/cards.py) build with ``model_construct``: the models' validators do not run on the request
path (they were most of a card's cost). The invariants are the builders' to guarantee, and these tests check that
they do: every fixture's answer, with and without the informational concordant card, is re-validated with the
strict models and must round-trip to the very same bytes; every source a card can cite and every override reason
of the knowledge files is valid on its own. tests/test_properties.py re-validates the cards of random records.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks import HookSettings
from hooks.cards import _override_reasons, _source, stable_uuid
from hooks.knowledge import knowledge
from hooks.response import Coding, OverrideReason, Source
from service.cds import CDSRequest, CDSResponse
from service.cds.pipeline import Evaluated, run

REPO = Path(__file__).resolve().parent.parent
REQUESTS = sorted((REPO / "fhir_fixtures").rglob("*.request.json"))
FIXTURE_DAY = date(2026, 11, 24)
SETTINGS = {"default": HookSettings(), "concordant-info-card": HookSettings(concordant_info_card=True)}


def _answers(path: Path) -> list[bytes]:
    """The wire bytes the pipeline answers the fixture with, under each hook setting (no FHIR server is read)."""
    request = CDSRequest.model_validate(json.loads(path.read_text()))
    out = []
    for settings in SETTINGS.values():
        outcome = asyncio.run(run(request, None, FIXTURE_DAY, settings=settings))
        if isinstance(outcome, Evaluated):
            out.append(outcome.body())
    return out


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.request.json')}")
def test_every_fixture_answer_is_valid_under_the_strict_response_models(path: Path) -> None:
    for wire in _answers(path):
        validated = CDSResponse.model_validate_json(wire)  # raises on any 2.0 invariant the builders broke
        assert validated.model_dump_json(exclude_none=True).encode() == wire


def test_the_fixtures_exercise_every_kind_of_card_and_suggestion() -> None:
    """The re-validation above means something only if the fixtures reach every builder."""
    cards = [card for path in REQUESTS for wire in _answers(path) for card in json.loads(wire)["cards"]]
    assert {card["indicator"] for card in cards} == {"info", "warning", "critical"}
    actions = {action["type"] for card in cards for s in card.get("suggestions", ()) for action in s["actions"]}
    assert actions == {"create", "delete"}
    assert any("overrideReasons" in card for card in cards) and any("overrideReasons" not in card for card in cards)
    assert any(len(card.get("suggestions", ())) > 1 for card in cards)


def test_every_source_a_card_can_cite_is_valid() -> None:
    kb = knowledge()
    for rule in kb.rules.values():
        for drug in (None, *kb.drugs.values()):
            source = _source(kb, rule, drug)
            assert Source.model_validate(source.model_dump()) == source
            assert source.topic is not None and Coding.model_validate(source.topic.model_dump()) == source.topic


def test_every_override_reason_is_valid() -> None:
    reasons = _override_reasons(knowledge())
    assert reasons
    for reason in reasons:
        assert OverrideReason.model_validate(reason.model_dump()) == reason


@given(st.text(), st.text(), st.text())
def test_stable_uuid_is_exactly_uuid5_of_the_request_the_rule_and_the_option(instance: str, rule: str, option: str):
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"axspa-cds:{instance}:{rule}:{option}")
    assert stable_uuid(instance, rule, option) == str(expected)
    assert uuid.UUID(stable_uuid(instance, rule, option)).version == 5
