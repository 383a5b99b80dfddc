"""PostgreSQL store (``CDS_DATABASE_URL=postgresql://...``): feedback, the ``jti`` replay cache and the card ledger
shared by replicas.

Safe under concurrency from several threads and processes: each call borrows a connection from a small
per-process ``psycopg_pool.ConnectionPool`` (one short transaction per call); a call whose connection breaks is
retried once, after the pool has checked its idle connections and replaced the broken ones (after a restart of the
server every pooled connection is). Idempotency and replay protection rest on primary keys
(``INSERT ... ON CONFLICT``), never on a read-then-write.

Round trips: the connections are in autocommit mode, so a call of one statement (the ``jti`` claim, on every
production request) is one round trip; a call of several runs them between an explicit ``BEGIN`` and ``COMMIT``.
The pool does not check a connection each time it lends one (a round trip of its own): a broken one fails the call,
which is retried as above.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.concurrency import run_in_threadpool

from service.storage.base import JTI_CLEANUP_EVERY_S, feedback_row
from service.storage.ledger import EARLIEST, LATEST, PAGE, LedgerCard, LedgerRow, collapse, group_outcomes

log = logging.getLogger("axspa.store")
T = TypeVar("T")

# A row that has expired but not yet been cleaned up may be reclaimed, atomically; no row returned: a replay.
# Each claim carries a nonce of its own: when a connection breaks after the INSERT committed but before its answer
# arrived, the retry finds the row it wrote itself (same nonce) and the call stands; another call's row (another
# nonce, or none: a row of an earlier version) is a replay.
_CLAIM = """
INSERT INTO axspa_jti_seen (issuer, jti, expires_at, claim) VALUES (%s, %s, %s, %s)
ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, claim = EXCLUDED.claim
WHERE axspa_jti_seen.expires_at < %s OR axspa_jti_seen.claim = EXCLUDED.claim
RETURNING 1
"""
_CLEANUP = "DELETE FROM axspa_jti_seen WHERE expires_at < %s"
_HAS_CLAIM_COLUMN = ("SELECT 1 FROM pg_attribute WHERE attrelid = 'axspa_jti_seen'::regclass AND attname = 'claim' "
                     "AND NOT attisdropped")
CLAIM_CONNECTIONS = 4  # the event loop's own pool, for the jti claims of one process

_SCHEMA_LOCK = 0x61787370  # pg_advisory_xact_lock key: concurrent CREATE TABLE IF NOT EXISTS can still collide
_SCHEMA = """
CREATE TABLE IF NOT EXISTS axspa_feedback (
    key TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    service_id TEXT NOT NULL,
    card TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS axspa_feedback_service ON axspa_feedback (service_id, seq);
CREATE TABLE IF NOT EXISTS axspa_jti_seen (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    claim TEXT,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX IF NOT EXISTS axspa_jti_seen_expiry ON axspa_jti_seen (expires_at);
"""
_LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS axspa_card_ledger (
    card_uuid TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    hook TEXT NOT NULL,
    indicator TEXT NOT NULL,
    suggestions TEXT NOT NULL,
    first_shown DOUBLE PRECISION NOT NULL,
    last_shown DOUBLE PRECISION NOT NULL,
    times_shown BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS axspa_card_ledger_first_shown ON axspa_card_ledger (first_shown);
CREATE INDEX IF NOT EXISTS axspa_card_ledger_last_shown ON axspa_card_ledger (last_shown);
CREATE INDEX IF NOT EXISTS axspa_feedback_card ON axspa_feedback (card);
CREATE INDEX IF NOT EXISTS axspa_feedback_received ON axspa_feedback (received_at);
"""


class PostgresStore:
    """A :class:`~service.storage.base.Store` in PostgreSQL, shared by every replica pointed at it."""

    def __init__(self, url: str, *, max_connections: int = 8, connect_timeout: int = 5) -> None:
        conninfo = url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
        self._conninfo = conninfo
        self._kwargs: dict[str, Any] = {"connect_timeout": connect_timeout, "application_name": "axspa-cds",
                                        "autocommit": True}
        self._timeout = 4 * connect_timeout
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=1, max_size=max_connections, kwargs=self._kwargs, timeout=self._timeout,
            name="axspa-cds", open=True,
        )
        # The jti claims made from the event loop (claim_jti_async) have an async pool of their own, opened by the
        # first claim in that loop (an async pool belongs to one event loop: another loop claims in a thread).
        self._claims: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._claims_loop: asyncio.AbstractEventLoop | None = None
        self._last_cleanup = 0.0
        try:
            self._run(self._create_schema)
        except BaseException:
            self._pool.close()
            raise

    def _run(self, work: Callable[[psycopg.Connection[Any]], T], *, transaction: bool = True) -> T:
        """Run ``work`` in one transaction (``transaction=False``: one statement, autocommitted, one round trip);
        on a connection failure check the pool's connections and retry once."""
        for attempt in (1, 2):
            try:
                with self._pool.connection() as conn:
                    if not transaction:
                        return work(conn)
                    with conn.transaction():
                        return work(conn)
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
                log.warning("postgres connection failed; checking the pool, then retrying")
                self._pool.check()
        raise AssertionError("unreachable")

    @staticmethod
    def _create_schema(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in filter(None, (part.strip() for part in (_SCHEMA + _LEDGER_SCHEMA).split(";"))):
            conn.execute(statement)
        # A table of an earlier version gains the claim nonce (see _CLAIM). Only when it lacks it: ALTER TABLE takes
        # an exclusive lock even with IF NOT EXISTS, and every replica's claims would queue behind it at each start.
        if conn.execute(_HAS_CLAIM_COLUMN).fetchone() is None:
            conn.execute("ALTER TABLE axspa_jti_seen ADD COLUMN IF NOT EXISTS claim TEXT")

    # ------------------------------------------------------------------ Store protocol
    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        now = time.time()
        rows: dict[str, tuple[Any, ...]] = {}
        for item in items:
            row = feedback_row(service_id, item, now)
            rows.setdefault(row[0], row)
        if not rows:
            return 0
        columns = list(zip(*rows.values()))

        def insert(conn: psycopg.Connection[Any]) -> int:
            cursor = conn.execute(
                """
                INSERT INTO axspa_feedback (key, service_id, card, outcome, outcome_timestamp, body, received_at)
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                     %s::double precision[])
                ORDER BY 1
                ON CONFLICT (key) DO NOTHING
                RETURNING 1
                """,
                [list(column) for column in columns],
            )
            return len(cursor.fetchall())

        return self._run(insert)

    def list_feedback(self, service_id: str) -> list[dict[str, Any]]:
        def select(conn: psycopg.Connection[Any]) -> list[str]:
            cursor = conn.execute(
                "SELECT body FROM axspa_feedback WHERE service_id = %s ORDER BY seq", (service_id,)
            )
            return [body for (body,) in cursor.fetchall()]

        return [orjson.loads(body) for body in self._run(select)]

    def _cleanup_due(self, now: float) -> bool:
        due = now - self._last_cleanup >= JTI_CLEANUP_EVERY_S
        if due:
            self._last_cleanup = now
        return due

    def claim_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        cleanup = self._cleanup_due(now)
        nonce = secrets.token_hex(8)  # the same for the retry: see _CLAIM

        def claim(conn: psycopg.Connection[Any]) -> bool:
            if cleanup:
                conn.execute(_CLEANUP, (now,))
            return conn.execute(_CLAIM, (issuer, jti, expires_at, nonce, now)).fetchone() is not None

        return self._run(claim, transaction=False)  # the INSERT alone is atomic: one round trip

    async def claim_jti_async(self, issuer: str, jti: str, expires_at: float) -> bool:
        """:meth:`claim_jti` on an async connection of the event loop's own pool: no thread hop. On a connection
        failure the pool checks its connections and the claim is retried once, as :meth:`_run` does."""
        pool = await self._claims_pool()
        if pool is None:
            return await run_in_threadpool(self.claim_jti, issuer, jti, expires_at)
        now = time.time()
        cleanup = self._cleanup_due(now)
        nonce = secrets.token_hex(8)  # the same for the retry: see _CLAIM
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    if cleanup:
                        await conn.execute(_CLEANUP, (now,))
                    cursor = await conn.execute(_CLAIM, (issuer, jti, expires_at, nonce, now))
                    return await cursor.fetchone() is not None
            except psycopg.OperationalError:  # a pool timeout is one too
                if attempt == 2:
                    raise
                log.warning("postgres connection failed; checking the claims pool, then retrying")
                await pool.check()
        raise AssertionError("unreachable")

    async def _claims_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None:
        """This event loop's claims pool (opened without waiting for its connections: a claim waits for one, up to
        the pool's timeout); None in any other event loop than the first that claimed."""
        loop = asyncio.get_running_loop()
        if self._claims is None:
            self._claims_loop = loop
            self._claims = AsyncConnectionPool(
                self._conninfo, min_size=1, max_size=CLAIM_CONNECTIONS, kwargs=self._kwargs, timeout=self._timeout,
                name="axspa-cds-claims", open=False,
            )
        if loop is not self._claims_loop:
            return None
        await self._claims.open()  # once; later calls return at once
        return self._claims

    async def aclose(self) -> None:
        """Close the claims pool, from the event loop it belongs to (before :meth:`close`)."""
        if self._claims is not None and asyncio.get_running_loop() is self._claims_loop:
            await self._claims.close()

    def prune_feedback(self, received_before: float) -> int:
        sql = "DELETE FROM axspa_feedback WHERE received_at < %s"
        return self._run(lambda conn: conn.execute(sql, (received_before,)).rowcount)

    def ping(self) -> bool:
        try:
            return self._run(lambda conn: conn.execute("SELECT 1").fetchone() == (1,), transaction=False)
        except psycopg.Error:
            return False

    def close(self) -> None:
        self._pool.close()

    # ------------------------------------------------------------------ card ledger
    def record_cards(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
        entries = collapse(rows)  # one row per uuid (ON CONFLICT cannot touch a row twice), in uuid order
        if not entries:
            return []
        columns = [
            [row.card_uuid for row, _, _ in entries], [row.rule_id for row, _, _ in entries],
            [row.hook for row, _, _ in entries], [row.indicator for row, _, _ in entries],
            [row.encoded_suggestions() for row, _, _ in entries], [first for _, first, _ in entries],
            [row.shown_at for row, _, _ in entries], [times for _, _, times in entries],
        ]

        def upsert(conn: psycopg.Connection[Any]) -> dict[str, int]:
            cursor = conn.execute(
                """
                INSERT INTO axspa_card_ledger AS l
                    (card_uuid, rule_id, hook, indicator, suggestions, first_shown, last_shown, times_shown)
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                     %s::double precision[], %s::double precision[], %s::bigint[])
                ON CONFLICT (card_uuid) DO UPDATE SET
                    rule_id = EXCLUDED.rule_id, hook = EXCLUDED.hook, indicator = EXCLUDED.indicator,
                    suggestions = EXCLUDED.suggestions, last_shown = GREATEST(l.last_shown, EXCLUDED.last_shown),
                    times_shown = l.times_shown + EXCLUDED.times_shown
                RETURNING card_uuid, times_shown
                """,
                columns,
            )
            return dict(cursor.fetchall())

        totals = self._run(upsert)
        return [row for row, _, times in entries if totals.get(row.card_uuid) == times]

    def card_rules(self, card_uuids: Sequence[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(card_uuids))
        if not wanted:
            return {}

        def select(conn: psycopg.Connection[Any]) -> dict[str, str]:
            cursor = conn.execute(
                "SELECT card_uuid, rule_id FROM axspa_card_ledger WHERE card_uuid = ANY(%s)", (wanted,)
            )
            return dict(cursor.fetchall())

        return self._run(select)

    def ledger_cards(self, since: float | None, until: float | None) -> Iterator[LedgerCard]:
        bounds = (EARLIEST if since is None else since, LATEST if until is None else until)
        after = ""
        while True:

            def page(conn: psycopg.Connection[Any], after: str = after) -> list[tuple[Any, ...]]:
                cursor = conn.execute(
                    """
                    SELECT l.card_uuid, l.rule_id, l.hook, l.indicator, l.suggestions, l.first_shown, l.times_shown,
                           f.body
                    FROM (SELECT * FROM axspa_card_ledger
                          WHERE first_shown >= %s AND first_shown < %s AND card_uuid > %s
                          ORDER BY card_uuid LIMIT %s) AS l
                    LEFT JOIN axspa_feedback AS f ON f.card = l.card_uuid
                    ORDER BY l.card_uuid
                    """,
                    (*bounds, after, PAGE),
                )
                return cursor.fetchall()

            cards = group_outcomes(self._run(page))
            yield from cards
            if len(cards) < PAGE:
                return
            after = cards[-1].card_uuid

    def unmatched_feedback(self, since: float | None, until: float | None) -> int:
        bounds = (EARLIEST if since is None else since, LATEST if until is None else until)

        def count(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute(
                """
                SELECT count(*) FROM axspa_feedback AS f WHERE f.received_at >= %s AND f.received_at < %s
                AND NOT EXISTS (SELECT 1 FROM axspa_card_ledger AS l WHERE l.card_uuid = f.card)
                """,
                bounds,
            ).fetchone()
            return int(row[0]) if row else 0

        return self._run(count)

    def prune_cards(self, shown_before: float) -> int:
        def delete(conn: psycopg.Connection[Any]) -> int:
            return conn.execute("DELETE FROM axspa_card_ledger WHERE last_shown < %s", (shown_before,)).rowcount

        return self._run(delete)
