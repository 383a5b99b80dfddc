"""Card and suggestion uuids unique within a response, stable for the same request.

Feedback names a card by its uuid and a suggestion by its uuid, and the card ledger is keyed on the card uuid, so
two cards of one response must never share one. The hook derives uuids from the hookInstance, the order and the
rule (the same request gives the same uuids: order-select fires again and again for one order, and each firing's
card keeps its uuid, so feedback joins to the card whichever firing the clinician acted on). Orders that carry no
id, or the same id twice, would give two cards the same uuid; so would one suggestion offered by two cards. A
repeat is renamed, deterministically: uuid5 of the repeated uuid and its rank in the response.
"""

from __future__ import annotations

import uuid

from hooks.response import Card

_NAMESPACE = uuid.UUID("6f2f3a8e-2b1d-5c7e-9a44-3c1e5d0b7a21")  # fixed: the renaming is reproducible


def _fresh(value: str, seen: set[str]) -> str:
    rank = 1
    candidate = value
    while candidate in seen:
        rank += 1
        candidate = str(uuid.uuid5(_NAMESPACE, f"{value}#{rank}"))
    seen.add(candidate)
    return candidate


def unique_ids(cards: list[Card]) -> list[Card]:
    """``cards`` with every card uuid, and every suggestion uuid, used once in the response."""
    card_ids: set[str] = set()
    suggestion_ids: set[str] = set()
    out = []
    for card in cards:
        update: dict[str, object] = {}
        card_id = _fresh(card.uuid, card_ids)
        if card_id != card.uuid:
            update["uuid"] = card_id
        if card.suggestions:
            renamed = [s if (sid := _fresh(s.uuid, suggestion_ids)) == s.uuid else s.model_copy(update={"uuid": sid})
                       for s in card.suggestions]
            if any(a is not b for a, b in zip(renamed, card.suggestions)):
                update["suggestions"] = renamed
        out.append(card.model_copy(update=update) if update else card)
    return out
