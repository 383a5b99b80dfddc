"""The card ledger writer: what the service showed, recorded off the request path.

The hook endpoint hands each answer's cards to :meth:`LedgerWriter.answered`, which only puts them on a bounded
queue (a few microseconds; nothing is built or written on the request path). One background thread per process
turns them into :class:`~service.storage.ledger.LedgerRow` s (card uuid, rule id, hook, indicator, suggestion uuids
and the drug each orders, a timestamp: never a patient identifier or any text) and writes whatever has accumulated
in one batch, so that under load the batches grow instead of the queue; after the first answer of a batch it
lingers ``LINGER_S`` for more, so that answers one at a time do not cost one transaction (and one fsync) each.
It also counts the rule metrics (a card recorded for the first time is ``shown``; feedback for a ledger card is
``accepted`` or ``overridden``) and deletes rows older than the retention once an hour.

What can be lost, and how it shows: a full queue (the store is down or too slow) drops the answer's rows and counts
them in ``cds_ledger_dropped_rows_total{reason="queue-full"}``; a failed write drops its batch
(``reason="store-error"``); on shutdown the queue is flushed (up to ``stop``'s timeout); if the process dies
(killed, out of memory) the rows still queued, at most the last ``LINGER_S`` and one batch's worth, are lost.
A lost row makes its feedback "unmatched" in the report; the answers themselves are never affected.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hooks.response import Card
from service.cds import pipeline
from service.governance.cards import known_rules, rule_of, suggestion_drugs
from service.ops import Metrics
from service.storage import Store
from service.storage.ledger import LedgerRow

log = logging.getLogger("axspa.ledger")
DAY_S = 86_400.0
#: How long the writer waits for more answers after the first one of a batch (measured: one answer per
#: transaction cost the writer thread as much CPU as the answer's own cards; docs/performance.md).
LINGER_S = 0.05


def ledger_rows(hook: str, cards: Sequence[Card], shown_at: float) -> list[LedgerRow]:
    """The ledger rows of one answer's cards."""
    return [LedgerRow(card.uuid, rule_of(card), hook, card.indicator, suggestion_drugs(card), shown_at)
            for card in cards]


@dataclass(frozen=True, slots=True)
class _Shown:
    shown_at: float
    hook: str
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class _Feedback:
    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class _Marker:
    """Flush (set ``done`` once everything queued before it is written) or stop."""

    done: threading.Event = field(default_factory=threading.Event)
    stop: bool = False


_Item = _Shown | _Feedback | _Marker


class LedgerWriter:
    """The per-process background writer of the card ledger (see the module docstring)."""

    def __init__(self, store: Store, metrics: Metrics, *, queue_size: int, retention_days: int,
                 batch: int = 1_000, prune_every_s: float = 3_600.0) -> None:
        self.store = store
        self.metrics = metrics
        self.retention_s = retention_days * DAY_S
        self.batch = batch
        self.prune_every_s = prune_every_s
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="card-ledger", daemon=True)

    # ------------------------------------------------------------------ the request side
    def answered(self, result: pipeline.Outcome) -> None:
        """Queue the cards of an answer (only puts them on the queue: the request path does nothing else)."""
        if not isinstance(result, pipeline.Evaluated) or not result.response.cards:
            return
        cards = result.response.cards
        try:
            self._queue.put_nowait(_Shown(time.time(), result.hook, tuple(cards)))
        except queue.Full:
            self.metrics.ledger_dropped.labels("queue-full").inc(len(cards))

    def feedback(self, items: list[dict[str, Any]]) -> None:
        """Queue feedback items to be counted by rule (the feedback itself is stored by the route)."""
        try:
            self._queue.put_nowait(_Feedback(tuple(items)))
        except queue.Full:
            pass  # the rule metrics miss these items; the report reads the stored feedback and is unaffected

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LedgerWriter:
        self._thread.start()
        return self

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        marker = _Marker()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread (at most ``timeout`` seconds)."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_Marker(stop=True), timeout=timeout)
        except queue.Full:
            log.warning("card ledger: queue still full at shutdown; queued rows are lost")
            return
        self._thread.join(timeout)

    # ------------------------------------------------------------------ the writer thread
    def _run(self) -> None:
        next_prune = time.monotonic()
        while True:
            try:
                first: _Item | None = self._queue.get(timeout=max(0.0, next_prune - time.monotonic()))
            except queue.Empty:
                first = None
            if time.monotonic() >= next_prune:
                self._prune()
                next_prune = time.monotonic() + self.prune_every_s
            if first is None:
                continue
            if not isinstance(first, _Marker):
                time.sleep(LINGER_S)
            items = [first]
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._handle(items):
                return

    def _handle(self, items: list[_Item]) -> bool:
        """Write the batch's cards, count its feedback, then release its markers. True if one asked to stop."""
        shown = [item for item in items if isinstance(item, _Shown)]
        if shown:
            self._write([row for item in shown for row in ledger_rows(item.hook, item.cards, item.shown_at)])
        feedback = [entry for item in items if isinstance(item, _Feedback) for entry in item.items]
        if feedback:
            self._count_feedback(feedback)
        stop = False
        for item in items:
            if isinstance(item, _Marker):
                item.done.set()
                stop = stop or item.stop
        return stop

    def _write(self, rows: list[LedgerRow]) -> None:
        try:
            new = self.store.record_cards(rows)
        except Exception as exc:  # noqa: BLE001 - a failed write drops its batch, counted; the thread goes on
            self.metrics.ledger_dropped.labels("store-error").inc(len(rows))
            log.warning("card ledger write failed; batch dropped", extra={"rows": len(rows), "error": type(exc).__name__})
            return
        self.metrics.ledger_written.inc(len(rows))
        for row in new:
            self.metrics.rule_cards.labels(row.rule_id, "shown").inc()

    def _count_feedback(self, items: list[dict[str, Any]]) -> None:
        try:
            rules = self.store.card_rules([str(item.get("card")) for item in items])
        except Exception as exc:  # noqa: BLE001 - the metrics miss this batch; the stored feedback is intact
            log.warning("card ledger: rule lookup for feedback failed", extra={"error": type(exc).__name__})
            return
        known = known_rules()
        for item in items:
            rule = rules.get(str(item.get("card")))
            if rule is not None and item.get("outcome") in ("accepted", "overridden"):
                self.metrics.rule_cards.labels(rule if rule in known else "unknown", item["outcome"]).inc()

    def _prune(self) -> None:
        try:
            deleted = self.store.prune_cards(time.time() - self.retention_s)
        except Exception as exc:  # noqa: BLE001 - retried at the next interval
            log.warning("card ledger: retention delete failed", extra={"error": type(exc).__name__})
            return
        if deleted:
            log.info("card ledger: rows past retention deleted", extra={"rows": deleted})
