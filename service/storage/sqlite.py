"""SQLite store (the embedded default, one process): feedback and the ``jti`` replay cache in one file."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from service.storage.base import feedback_row


class SqliteStore:
    """A :class:`~service.storage.base.Store` in one SQLite file (WAL), serialised by a lock."""

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

    def delete_feedback_older_than(self, cutoff: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM feedback WHERE received_at < ?", (cutoff,)).rowcount

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
