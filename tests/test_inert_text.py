"""Record and draft text in a card is inert (issue 11, points 3 and 6), checked with a real renderer: markdown-it-py
with tables, strike-through, linkify and raw HTML enabled (what an EHR that renders GFM would do at worst).

Every card of the fixture corpus, and cards for records full of adversarial text (URLs, HTML, markdown links and
images, backticks, tables, headings, entities, zero-width and bidi characters, very long text), must render with
no link, no image, no raw HTML and no block structure of the record's making; the text itself stays readable.
"""

from __future__ import annotations

import copy
import html
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from cds import seed_request
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from hooks.inert import MESSAGE_MAX, inert
from hooks.response import Card
from service.dev import evaluate_request

REPO = Path(__file__).resolve().parent.parent
RENDER = MarkdownIt("gfm-like", {"linkify": True, "html": True})
#: What the card's own markup may produce (lists, bold headings, italic citations, the history table).
DETAIL_TAGS = {"p", "strong", "em", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}
PLAIN_TAGS = {"p"}
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")

FRAGMENTS = [
    "http://evil.example/x", "https://evil.example/login?u=1", "www.evil.example", "evil.example.com",
    "write to a@evil.example", "mailto:a@evil.example", "//evil.example/p", "ftp://evil.example",
    "<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "<a href='javascript:alert(1)'>x</a>",
    "[click](javascript:alert(1))", "![](http://evil.example/p.png)", "[ref][1]", "[1]: http://evil.example",
    "<http://evil.example>", "`code`", "```fence```", "| a | b |", "|---|---|", "# Heading", "> quote", "- item",
    "1. item", "2) item", "***", "---", "===", "*bold* _it_ ~~strike~~ $x^2$", "\\[x](y)", "\\", "&lt;img&gt;",
    "&#60;script&#62;", "&amp;", "&copy", "ev\u200bil.example", "\u202eelpmaxe.live", "\u2066x\u2069", "\ufeff",
    "a\u00a0b", "tab\there", "line\nbreak", "para\u2029graph", "\x00\x07nul",
]
PAYLOAD = " ".join(FRAGMENTS)
LONG = "http://evil.example/long " + "A" * 100_000


def render(text: str) -> str:
    return RENDER.render(text)


def tags(rendered: str) -> set[str]:
    return {name.lower() for name in re.findall(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)", rendered)}


def visible(rendered: str) -> str:
    """What a reader sees: the text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def cleaned(text: str) -> str:
    """The text as inert() promises to show it: invisible characters gone, whitespace one space."""
    kept = "".join(c if c.isprintable() else " " if c.isspace() or unicodedata.category(c) == "Cc" else "" for c in text)
    return " ".join(kept.split())


def fields(card: Card) -> list[tuple[str, str, set[str]]]:
    """(name, text, allowed tags) of every text field of a card."""
    out = [("summary", card.summary, PLAIN_TAGS), ("source.label", card.source.label, PLAIN_TAGS)]
    if card.detail:
        out.append(("detail", card.detail, DETAIL_TAGS))
    for suggestion in card.suggestions or []:
        out.append(("suggestion.label", suggestion.label, PLAIN_TAGS))
        for action in suggestion.actions or []:
            out.append(("action.description", action.description, PLAIN_TAGS))
    for reason in card.overrideReasons or []:
        out.append(("overrideReason.display", reason.display, PLAIN_TAGS))
    return out


def assert_inert(card: Card, where: str) -> None:
    for name, text, allowed in fields(card):
        rendered = render(text)
        extra = tags(rendered) - allowed
        assert not extra, f"{where}: {name} renders {sorted(extra)}:\n{text[:3000]}"
        assert not INVISIBLE.search(text), f"{where}: {name} carries an invisible character"
        assert rendered.count("<table") <= 1, f"{where}: {name} has a table of the record's making"


# --------------------------------------------------------------------------------------------- inert() itself


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_each_adversarial_fragment_renders_as_its_own_text_in_one_paragraph(fragment):
    rendered = render(inert(fragment))
    assert tags(rendered) <= {"p"}, rendered
    assert visible(rendered).strip() == cleaned(fragment)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=12).map("".join))
def test_any_text_renders_as_exactly_that_text_and_nothing_else(text):
    rendered = render(inert(text))
    assert tags(rendered) <= {"p"}, rendered
    assert visible(rendered).strip() == cleaned(text)


def test_a_url_in_a_note_reads_as_text_never_as_a_link():
    rendered = render(f"- Note: {inert('see https://evil.example/a?b=1 or www.evil.example or a@evil.example')}")
    assert "<a" not in rendered
    assert "see https://evil.example/a?b=1 or www.evil.example or a@evil.example" in visible(rendered)


def test_text_is_clipped_before_it_is_escaped():
    clipped = inert("x" * 50 + "[" * 50, 60)
    assert render(clipped).count("[") == 9 and clipped.endswith("…")  # 59 characters and the ellipsis
    assert not clipped.endswith("\\…")  # an escape is never cut in half (it would escape what follows)


# --------------------------------------------------------------------------------------------- every card


def fixture_requests() -> list[Path]:
    return sorted(REPO.glob("fhir_fixtures/*/*.request.json"))


def cards_of(document: dict[str, Any]) -> list[Card]:
    _, result = evaluate_request(document)
    return list(result.response.cards)


def test_every_card_of_the_fixture_corpus_is_inert():
    import json

    seen = 0
    for path in fixture_requests():
        document = json.loads(path.read_text())
        try:
            cards = cards_of(document)
        except Exception:  # noqa: BLE001 - malformed fixtures are refused by design; they have no card
            continue
        for card in cards:
            assert_inert(card, path.name)
            seen += 1
    assert seen > 100  # the corpus has cards to check


def adversarial_seed() -> dict[str, Any]:
    request = seed_request()
    prefetch = request["prefetch"]
    statements = prefetch["medicationStatements"]["entry"]
    upa = next(e["resource"] for e in statements if e["resource"]["id"] == "ms-upa")
    upa["medicationCodeableConcept"]["text"] = f"Rinvoq {PAYLOAD}"
    upa["statusReason"] = [{"text": f"Not effective {PAYLOAD}"}]
    upa["note"] = [{"text": PAYLOAD}]
    statements.append({"resource": {"resourceType": "MedicationStatement", "id": "ms-unknown", "status": "completed",
                                    "medicationCodeableConcept": {"text": LONG},
                                    "subject": {"reference": "Patient/seed-patient"}}})
    statements.append({"resource": {"resourceType": "MedicationStatement", "id": f"x{PAYLOAD}", "status": "active",
                                    "medicationCodeableConcept": {"text": PAYLOAD}}})
    prefetch["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c-text <img src=x onerror=alert(1)> http://evil.example",
        "code": {"text": f"ankylosing spondylitis {PAYLOAD}"}, "subject": {"reference": "Patient/seed-patient"}}})
    prefetch["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c-ibd", "code": {"text": f"Crohn's disease {PAYLOAD}"},
        "clinicalStatus": {"coding": [{"code": "active"}]}, "subject": {"reference": "Patient/seed-patient"}}})
    allergy = prefetch["allergies"]["entry"][0]["resource"]
    allergy["reaction"][0]["manifestation"][0]["text"] = f"Injection site reaction {PAYLOAD}"
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"]["text"] = f"Rinvoq {PAYLOAD}"
    draft["dosageInstruction"] = [{"text": PAYLOAD}]
    return request


def test_cards_for_a_record_full_of_adversarial_text_are_inert_clipped_and_readable():
    cards = cards_of(adversarial_seed())
    assert cards
    for card in cards:
        assert_inert(card, "adversarial seed")
        for name, text, _ in fields(card):
            assert "A" * 1000 not in text, f"{name}: the long text reached the card unclipped"
            assert len(text) < 40_000, f"{name}: {len(text)} characters"
    detail = visible(render(cards[0].detail or ""))
    assert "http://evil.example/x" in detail  # the record's text is shown, as text
    assert "<img src=x onerror=alert(1)>" in detail  # shown as the characters it is, never as an image
    descriptions = [a.description for s in cards[0].suggestions or [] for a in s.actions or []]
    assert descriptions and not any("evil" in d or "<" in d for d in descriptions)  # the draft's text is not copied


def test_a_finding_about_an_adversarial_condition_is_clipped():
    request = adversarial_seed()
    request["prefetch"]["conditions"]["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c-tb", "code": {"text": f"active pulmonary tuberculosis {LONG}"},
        "clinicalStatus": {"coding": [{"code": "active"}]}, "subject": {"reference": "Patient/seed-patient"}}})
    cards = cards_of(request)
    for card in cards:
        assert_inert(card, "adversarial TB")
        assert all(len(line) < MESSAGE_MAX * 3 for line in (card.detail or "").splitlines())


def test_order_sign_with_an_adversarial_draft_id_is_inert():
    request = copy.deepcopy(adversarial_seed())
    request["hook"] = "order-sign"
    request["context"].pop("selections")
    request["context"]["draftOrders"]["entry"][0]["resource"]["id"] = f"d {PAYLOAD}"
    for card in cards_of(request):
        assert_inert(card, "adversarial order-sign")
