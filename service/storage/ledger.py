"""The card ledger's records, shared by both stores: what the service showed, never who it was shown for.

A :class:`LedgerRow` is one card as it left the service: its uuid (feedback joins on it), the rule that produced it
(``source.topic.code``), the hook, the indicator, and for each suggestion its uuid and the drug it orders (a
knowledge-file drug key, or None for a suggestion that only removes the draft). There is no patient identifier, no
hookInstance, no user, no text of the record or of the card. A :class:`LedgerCard` is a row read back with every
feedback item stored for its uuid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class LedgerRow:
    card_uuid: str
    rule_id: str
    hook: str
    indicator: str
    suggestions: tuple[tuple[str, str | None], ...]  # (suggestion uuid, drug key or None)
    shown_at: float  # epoch seconds

    def encoded_suggestions(self) -> str:
        return orjson.dumps([list(pair) for pair in self.suggestions]).decode()


@dataclass(frozen=True, slots=True)
class LedgerCard:
    """A ledger card with its feedback (the stored CDS Hooks feedback items for its uuid, in no particular order)."""

    card_uuid: str
    rule_id: str
    hook: str
    indicator: str
    suggestions: tuple[tuple[str, str | None], ...]
    first_shown: float
    times_shown: int
    feedback: tuple[dict[str, Any], ...]


def decode_suggestions(text: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((str(uuid), drug) for uuid, drug in orjson.loads(text))


def group_outcomes(rows: list[tuple[Any, ...]]) -> list[LedgerCard]:
    """Joined rows ``(card_uuid, rule_id, hook, indicator, suggestions, first_shown, times_shown, feedback body or
    None)``, ordered by card uuid, as one :class:`LedgerCard` per card."""
    cards: list[LedgerCard] = []
    feedback: list[dict[str, Any]] = []
    current: tuple[Any, ...] | None = None
    for row in rows:
        if current is not None and row[0] != current[0]:
            cards.append(_card(current, feedback))
            feedback = []
        current = row
        if row[7] is not None:
            feedback.append(orjson.loads(row[7]))
    if current is not None:
        cards.append(_card(current, feedback))
    return cards


def _card(row: tuple[Any, ...], feedback: list[dict[str, Any]]) -> LedgerCard:
    return LedgerCard(row[0], row[1], row[2], row[3], decode_suggestions(row[4]), float(row[5]), int(row[6]),
                      tuple(feedback))


def collapse(rows: Sequence[LedgerRow]) -> list[tuple[LedgerRow, float, int]]:
    """One entry per card uuid of a batch, ordered by uuid: (the row as last shown, first shown, times shown)."""
    merged: dict[str, tuple[LedgerRow, float, int]] = {}
    for row in rows:
        seen = merged.get(row.card_uuid)
        if seen is None:
            merged[row.card_uuid] = (row, row.shown_at, 1)
        else:
            latest = row if row.shown_at >= seen[0].shown_at else seen[0]
            merged[row.card_uuid] = (latest, min(seen[1], row.shown_at), seen[2] + 1)
    return [merged[key] for key in sorted(merged)]


#: Bounds used for an open period (epoch seconds).
EARLIEST, LATEST = 0.0, 1e15
PAGE = 5_000  # ledger cards read per transaction
