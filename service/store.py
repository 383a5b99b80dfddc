"""Durable state: card feedback and the JWT ``jti`` replay cache.

SQLite is the embedded default; PostgreSQL (``postgresql://``) lets replicas share the state.
Both implement :class:`Store`; methods are synchronous and called from a worker thread.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import orjson


class Store(Protocol):
    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        """Store feedback items; repeats of an identical item are ignored. Returns how many were new."""

    def list_feedback(self, service_id: str) -> list[dict[str, Any]]:
        """Every stored feedback item for the service, oldest first."""

    def claim_jti(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Remember a token id until it expires; False if it was already seen (a replay)."""

    def ping(self) -> bool:
        """True if the store answers (readiness)."""

    def close(self) -> None: ...


def feedback_key(service_id: str, item: dict[str, Any]) -> str:
    """Idempotency key: the same card, outcome, time and choices reported twice is one feedback."""
    canonical = orjson.dumps([service_id, item], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class SqliteStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
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
            CREATE TABLE IF NOT EXISTS jti_seen (
                issuer TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at REAL NOT NULL,
                PRIMARY KEY (issuer, jti)
            );
            """
        )

    def record_feedback(self, service_id: str, items: list[dict[str, Any]]) -> int:
        now = time.time()
        rows = [
            (
                feedback_key(service_id, item),
                service_id,
                item["card"],
                item["outcome"],
                item["outcomeTimestamp"],
                orjson.dumps(item).decode(),
                now,
            )
            for item in items
        ]
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
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM jti_seen WHERE expires_at < ?", (now,))
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO jti_seen VALUES (?,?,?)", (issuer, jti, expires_at)
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cursor.rowcount == 1

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(url: str) -> Store:
    """``sqlite:///relative/path``, ``sqlite:////abs/path``, ``sqlite://:memory:`` or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        from service.store_postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url == "sqlite://:memory:":
        return SqliteStore(":memory:")
    raise ValueError("CDS_DATABASE_URL must start with sqlite:/// or postgresql://")
