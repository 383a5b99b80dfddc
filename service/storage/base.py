"""The store protocol: card feedback and the JWT ``jti`` replay cache, durable and shared by replicas.

Methods are synchronous and called from a worker thread.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson


class StoreUnavailable(Exception):
    """The store did not answer (connection refused, pool exhausted, database locked): the call gets 503."""


class Store(Protocol):
    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        """Store feedback items; repeats of an identical item are ignored. Returns how many were new."""

    def list_feedback(self, service_id: str) -> list[dict[str, Any]]:
        """Every stored feedback item for the service, oldest first."""

    def claim_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Remember a token id until it expires; False if it was already seen (a replay)."""

    def delete_feedback_older_than(self, cutoff: float) -> int:
        """Delete feedback received before ``cutoff`` (epoch seconds); returns how many items were deleted."""

    def ping(self) -> bool:
        """True if the store answers (readiness)."""

    def close(self) -> None: ...


def feedback_key(service_id: str, item: dict[str, Any]) -> str:
    """Idempotency key: the same card, outcome, time and choices reported twice is one feedback."""
    canonical = orjson.dumps([service_id, item], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def feedback_row(service_id: str, item: dict[str, Any], received_at: float) -> tuple[Any, ...]:
    """(key, service_id, card, outcome, outcome_timestamp, body, received_at): the row both stores keep."""
    return (feedback_key(service_id, item), service_id, item["card"], item["outcome"], item["outcomeTimestamp"],
            orjson.dumps(item).decode(), received_at)
