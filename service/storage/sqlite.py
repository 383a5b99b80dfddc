"""SQLite store (the embedded default, one process): feedback, the ``jti`` replay cache and the card ledger in one
file (WAL).

Three connections. Feedback and the ledger are written with ``synchronous=FULL``: a committed item survives a power
loss. The replay cache has its own connection with ``synchronous=NORMAL`` (in WAL mode: durable across a crash of
the service, not of the machine; a claim no longer waits for an fsync, which cost 4x the claim itself): after a
power loss the last claims may be forgotten, so a token captured in the last moments could be replayed within its
remaining lifetime (5 minutes at most), a trade a replay cache commonly makes (docs/performance.md). The third
connection makes the claims the event loop can make without waiting (:meth:`SqliteStore.claim_jti_now`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from service.storage.base import JTI_CLEANUP_EVERY_S, feedback_row
from service.storage.ledger import EARLIEST, LATEST, PAGE, LedgerCard, LedgerRow, collapse, group_outcomes

_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS card_ledger (
    card_uuid TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    hook TEXT NOT NULL,
    indicator TEXT NOT NULL,
    suggestions TEXT NOT NULL,
    first_shown REAL NOT NULL,
    last_shown REAL NOT NULL,
    times_shown INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS card_ledger_first_shown ON card_ledger (first_shown);
CREATE INDEX IF NOT EXISTS card_ledger_last_shown ON card_ledger (last_shown);
CREATE INDEX IF NOT EXISTS feedback_card ON feedback (card);
CREATE INDEX IF NOT EXISTS feedback_received ON feedback (received_at);
"""


_JTI_SCHEMA = """
CREATE TABLE IF NOT EXISTS jti_seen (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX IF NOT EXISTS jti_seen_expiry ON jti_seen (expires_at);
"""


#: Every this many claims on the event loop (whose connection never checkpoints the WAL), one claim is left to the
#: thread's connection, which then checkpoints it: the WAL stays near 1,000 pages (4 MB) with no other writer.
CHECKPOINT_EVERY_CLAIMS = 300


def _connect(path: str, busy_timeout_ms: int = 10_000) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_ms / 1000, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return db


def _claim(db: sqlite3.Connection, issuer: str, jti: str, expires_at: float, now: float) -> bool:
    # One statement, one implicit transaction: a new pair is inserted, an expired one reclaimed, a live one left as
    # it is (no row returned: a replay). fetchall() runs the statement to its end, which commits.
    claimed = db.execute(
        "INSERT INTO jti_seen VALUES (?,?,?) ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = "
        "excluded.expires_at WHERE jti_seen.expires_at < ? RETURNING 1",
        (issuer, jti, expires_at, now),
    ).fetchall()
    return bool(claimed)


class SqliteStore:
    """A :class:`~service.storage.base.Store` in one SQLite file (WAL), serialised by a lock."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = _connect(path)
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS feedback (
                key TEXT PRIMARY KEY,
                service_id TEXT NOT NULL,
                card TEXT NOT NULL,
                outcome TEXT NOT NULL,
                outcome_timestamp TEXT NOT NULL,
                body TEXT NOT NULL,
                received_at REAL NOT NULL
            );
            """
        )
        self._db.executescript(_LEDGER_SCHEMA)
        self._jti_lock = threading.Lock()
        self._jti_db = _connect(path)
        self._jti_db.execute("PRAGMA synchronous=NORMAL")
        self._jti_db.executescript(_JTI_SCHEMA)
        # The claims made on the event loop (claim_jti_now): never waits for a lock, never checkpoints the WAL (the
        # thread's connection does, every CHECKPOINT_EVERY_CLAIMS claims), no fsync (synchronous=NORMAL).
        self._jti_now_db = _connect(path, busy_timeout_ms=0)
        self._jti_now_db.execute("PRAGMA synchronous=NORMAL")
        self._jti_now_db.execute("PRAGMA wal_autocheckpoint=0")
        self._last_cleanup = 0.0
        self._claims_since_checkpoint = 0

    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        now = time.time()
        rows = [feedback_row(service_id, item, now) for item in items]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO feedback VALUES (?,?,?,?,?,?,?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self._db.total_changes - before

    def list_feedback(self, service_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM feedback WHERE service_id = ? ORDER BY received_at, key", (service_id,)
            ).fetchall()
        return [orjson.loads(body) for (body,) in rows]

    def claim_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._jti_lock:
            if now - self._last_cleanup >= JTI_CLEANUP_EVERY_S:
                self._last_cleanup = now
                self._jti_db.execute("DELETE FROM jti_seen WHERE expires_at < ?", (now,))
            claimed = _claim(self._jti_db, issuer, jti, expires_at, now)
            if self._claims_since_checkpoint >= CHECKPOINT_EVERY_CLAIMS:
                self._claims_since_checkpoint = 0
                self._jti_db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return claimed

    def claim_jti_now(self, issuer: str, jti: str, expires_at: float) -> bool | None:
        """:meth:`claim_jti` if it needs no waiting: an indexed insert in the page cache (~0.04 ms), cheaper than
        the thread hop it saves (~0.3 ms of CPU). None when it would wait: another claim holds the lock, the
        cleanup of expired rows or a checkpoint of the WAL is due, or another connection is writing (SQLITE_BUSY:
        nothing was written)."""
        now = time.time()
        if (now - self._last_cleanup >= JTI_CLEANUP_EVERY_S or self._claims_since_checkpoint >= CHECKPOINT_EVERY_CLAIMS
                or not self._jti_lock.acquire(blocking=False)):
            return None
        try:
            claimed = _claim(self._jti_now_db, issuer, jti, expires_at, now)
            self._claims_since_checkpoint += 1
            return claimed
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:  # the primary code of every SQLITE_BUSY_* code
                return None
            raise
        finally:
            self._jti_lock.release()

    async def claim_jti_async(self, issuer: str, jti: str, expires_at: float) -> bool:
        """:meth:`claim_jti_now`, else :meth:`claim_jti` in a worker thread."""
        claimed = self.claim_jti_now(issuer, jti, expires_at)
        if claimed is None:
            claimed = await run_in_threadpool(self.claim_jti, issuer, jti, expires_at)
        return claimed

    async def aclose(self) -> None:
        return None  # nothing bound to the event loop

    def prune_feedback(self, received_before: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM feedback WHERE received_at < ?", (received_before,)).rowcount

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock, self._jti_lock:
            self._db.close()
            self._jti_db.close()
            self._jti_now_db.close()

    # ------------------------------------------------------------------ card ledger
    def record_cards(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
        entries = collapse(rows)
        if not entries:
            return []
        new: list[LedgerRow] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row, first, times in entries:
                    (total,) = self._db.execute(
                        """
                        INSERT INTO card_ledger VALUES (?,?,?,?,?,?,?,?)
                        ON CONFLICT (card_uuid) DO UPDATE SET
                            rule_id = excluded.rule_id, hook = excluded.hook, indicator = excluded.indicator,
                            suggestions = excluded.suggestions, last_shown = max(last_shown, excluded.last_shown),
                            times_shown = times_shown + excluded.times_shown
                        RETURNING times_shown
                        """,
                        (row.card_uuid, row.rule_id, row.hook, row.indicator, row.encoded_suggestions(), first,
                         row.shown_at, times),
                    ).fetchone()
                    if total == times:
                        new.append(row)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new

    def card_rules(self, card_uuids: Sequence[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(card_uuids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):  # SQLite binds at most 32766 (older: 999) parameters
            chunk = wanted[start:start + 500]
            with self._lock:
                found.update(self._db.execute(
                    f"SELECT card_uuid, rule_id FROM card_ledger WHERE card_uuid IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall())
        return found

    def ledger_cards(self, since: float | None, until: float | None) -> Iterator[LedgerCard]:
        after = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    """
                    SELECT l.card_uuid, l.rule_id, l.hook, l.indicator, l.suggestions, l.first_shown, l.times_shown,
                           f.body
                    FROM (SELECT * FROM card_ledger WHERE first_shown >= ? AND first_shown < ? AND card_uuid > ?
                          ORDER BY card_uuid LIMIT ?) AS l
                    LEFT JOIN feedback AS f ON f.card = l.card_uuid
                    ORDER BY l.card_uuid
                    """,
                    (EARLIEST if since is None else since, LATEST if until is None else until, after, PAGE),
                ).fetchall()
            cards = group_outcomes(rows)
            yield from cards
            if len(cards) < PAGE:
                return
            after = cards[-1].card_uuid

    def unmatched_feedback(self, since: float | None, until: float | None) -> int:
        with self._lock:
            (count,) = self._db.execute(
                """
                SELECT count(*) FROM feedback AS f WHERE f.received_at >= ? AND f.received_at < ?
                AND NOT EXISTS (SELECT 1 FROM card_ledger AS l WHERE l.card_uuid = f.card)
                """,
                (EARLIEST if since is None else since, LATEST if until is None else until),
            ).fetchone()
        return int(count)

    def prune_cards(self, shown_before: float) -> int:
        with self._lock:
            cursor = self._db.execute("DELETE FROM card_ledger WHERE last_shown < ?", (shown_before,))
        return cursor.rowcount
