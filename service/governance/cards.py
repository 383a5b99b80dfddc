"""What the governance tools read from a card: the rule that produced it and the drug each suggestion orders.

The rule is the card's ``source.topic`` (system: the rule code system of ``rules.toml``, code: the rule id). A card
without it, or with a code that is not a rule of the knowledge file, counts under ``unknown``: metric labels stay
within the closed set of rule ids.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hooks.knowledge import knowledge
from hooks.response import Card

UNKNOWN_RULE = "unknown"
REMOVE_ONLY = "remove-draft"  # a suggestion that creates nothing (it removes the draft order)


@cache
def known_rules() -> frozenset[str]:
    """The closed set of rule ids (the knowledge file's), plus ``unknown``."""
    return frozenset(knowledge().rules) | {UNKNOWN_RULE}


def rule_of(card: Card) -> str:
    topic = card.source.topic
    if topic is None or topic.code not in known_rules():
        return UNKNOWN_RULE
    return topic.code


def drug_of(resource: dict[str, Any]) -> str | None:
    """The knowledge-file drug key a suggested MedicationRequest orders (its coding, else the first word of its
    text, which the engine starts with the generic name); None if it names none."""
    concept = resource.get("medicationCodeableConcept")
    if not isinstance(concept, dict):
        return None
    kb = knowledge()
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str) and coding["code"] in kb.drug_by_code:
            return kb.drug_by_code[coding["code"]]
    words = str(concept.get("text") or "").split()
    if not words:
        return None
    first = words[0].lower().rstrip(".,;:")
    return kb.drug_by_name.get(first, first)


def suggestion_drugs(card: Card) -> tuple[tuple[str, str | None], ...]:
    """(suggestion uuid, the drug it orders, or :data:`REMOVE_ONLY` for a suggestion that creates no order)."""
    out = []
    for suggestion in card.suggestions or ():
        drug: str | None = REMOVE_ONLY
        for action in suggestion.actions or ():
            if action.type == "create" and isinstance(action.resource, dict):
                drug = drug_of(action.resource)
                break
        out.append((suggestion.uuid, drug))
    return tuple(out)
