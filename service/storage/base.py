"""The store protocol: card feedback, the JWT ``jti`` replay cache and the card ledger, durable and shared by
replicas.

Methods are synchronous and called from a worker thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import orjson

from service.storage.ledger import LedgerCard, LedgerRow

#: Expired ``jti`` rows are deleted at most this often (through an index on the expiry), not on every claim: a
#: claim is one indexed insert. An expired row met before its deletion is reclaimed by that insert, atomically.
JTI_CLEANUP_EVERY_S = 60.0


class StoreUnavailable(Exception):
    """The store did not answer (connection refused, pool exhausted, database locked): the call gets 503."""


class Store(Protocol):
    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        """Store feedback items; repeats of an identical item are ignored. Returns how many were new."""

    def list_feedback(self, service_id: str) -> list[dict[str, Any]]:
        """Every stored feedback item for the service, oldest first."""

    def claim_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Remember a token id until it expires; False if it was already seen (a replay)."""

    async def claim_jti_async(self, issuer: str, jti: str, expires_at: float) -> bool:
        """:meth:`claim_jti` from the event loop, without a thread hop where the store can (SQLite when nothing
        holds the database, PostgreSQL on async connections), else in a worker thread. Raises if the store fails."""

    async def aclose(self) -> None:
        """Release what the store holds in the event loop (called before :meth:`close`)."""

    def prune_feedback(self, received_before: float) -> int:
        """Delete feedback received before ``received_before`` (epoch seconds); returns how many items were deleted."""

    def ping(self) -> bool:
        """True if the store answers (readiness)."""

    def close(self) -> None: ...

    # ------------------------------------------------------------------ card ledger (service/governance)
    def record_cards(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
        """Record cards shown: one row per card uuid. A uuid seen again updates its row (last shown, times shown,
        and the rule, indicator and suggestions as last shown). Returns the rows whose uuid was new."""

    def card_rules(self, card_uuids: Sequence[str]) -> dict[str, str]:
        """The rule id of each of these card uuids the ledger holds."""

    def ledger_cards(self, since: float | None, until: float | None) -> Iterator[LedgerCard]:
        """Cards first shown in ``[since, until)`` (epoch seconds; None: unbounded), ordered by uuid, each with the
        feedback stored for its uuid. Read in pages, one short transaction each."""

    def unmatched_feedback(self, since: float | None, until: float | None) -> int:
        """Feedback items received in ``[since, until)`` for a card uuid the ledger does not hold."""

    def prune_cards(self, shown_before: float) -> int:
        """Delete the ledger rows last shown before ``shown_before`` (retention). Returns how many."""


def feedback_key(service_id: str, item: dict[str, Any]) -> str:
    """Idempotency key: the same card, outcome, time and choices reported twice is one feedback."""
    canonical = orjson.dumps([service_id, item], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def feedback_row(service_id: str, item: dict[str, Any], received_at: float) -> tuple[Any, ...]:
    """(key, service_id, card, outcome, outcome_timestamp, body, received_at): the row both stores keep."""
    return (feedback_key(service_id, item), service_id, item["card"], item["outcome"], item["outcomeTimestamp"],
            orjson.dumps(item).decode(), received_at)
