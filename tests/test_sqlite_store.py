"""The SQLite store (the embedded default). The replay cache: one indexed insert per claim, a token id claimed once
until it expires, expired rows deleted by a periodic clean-up, claims kept across a restart. Every periodic deletion
(expired claims, feedback and ledger retention) goes through an index, never a scan of the table.
(PostgreSQL: test_replicas.py.)"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from service.storage import SqliteStore
from service.storage.base import JTI_CLEANUP_EVERY_S
from service.storage.sqlite import CHECKPOINT_EVERY_CLAIMS

ISS = "https://ehr.example.org"


def _rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM jti_seen").fetchone()[0]


def test_a_token_id_is_claimed_once_per_issuer_until_it_expires(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    later = time.time() + 360
    assert store.claim_jti(ISS, "j1", later) is True
    assert store.claim_jti(ISS, "j1", later) is False
    assert store.claim_jti("https://other.example.org", "j1", later) is True
    assert store.claim_jti(ISS, "old", time.time() - 1) is True
    assert store.claim_jti(ISS, "old", later) is True  # the earlier claim had expired: reclaimed
    assert store.claim_jti(ISS, "old", later) is False
    store.close()


def test_a_claim_survives_a_restart_of_the_service(tmp_path):
    path = str(tmp_path / "s.sqlite3")
    first = SqliteStore(path)
    assert first.claim_jti(ISS, "j1", time.time() + 300)
    first.close()
    again = SqliteStore(path)
    assert again.claim_jti(ISS, "j1", time.time() + 300) is False
    again.close()


def test_expired_claims_are_deleted_by_the_periodic_cleanup_not_kept_forever(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(str(path))
    now = time.time()
    for n in range(50):
        store.claim_jti(ISS, f"short-{n}", now + 1)
    store.claim_jti(ISS, "long", now + 3600)
    assert _rows(path) == 51  # the first claim's clean-up ran before any of these existed
    clock = now + 2 * JTI_CLEANUP_EVERY_S
    monkeypatch.setattr("service.storage.sqlite.time.time", lambda: clock)
    assert store.claim_jti(ISS, "next", clock + 300)
    assert _rows(path) == 2  # "long" and "next": the 50 expired rows are gone
    assert store.claim_jti(ISS, "long", clock + 300) is False  # a live claim is untouched by the clean-up
    store.close()


def test_every_periodic_deletion_uses_an_index(tmp_path):
    path = tmp_path / "s.sqlite3"
    SqliteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        for table, column in (("jti_seen", "expires_at"), ("feedback", "received_at"), ("card_ledger", "last_shown")):
            plan = " ".join(row[-1] for row in db.execute(
                f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE {column} < ?", (time.time(),)))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (table, plan)


# --------------------------------------------------------------------------- claims on the event loop (no wait)


def test_a_claim_on_the_event_loop_and_one_in_a_thread_guard_the_same_token_ids(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    later = time.time() + 360
    assert store.claim_jti_now(ISS, "first", later) is None  # a new store's clean-up is due: that claim waits
    assert store.claim_jti(ISS, "first", later) is True  # ... in a thread, and runs the clean-up
    assert store.claim_jti_now(ISS, "j1", later) is True
    assert store.claim_jti_now(ISS, "j1", later) is False  # a replay, seen on the fast path
    assert store.claim_jti(ISS, "j1", later) is False  # ... and on the slow one
    assert store.claim_jti(ISS, "j2", later) is True
    assert store.claim_jti_now(ISS, "j2", later) is False
    assert store.claim_jti_now(ISS, "old", time.time() - 1) is True
    assert store.claim_jti_now(ISS, "old", later) is True  # expired: reclaimed
    store.close()


def test_a_claim_on_the_event_loop_never_waits_for_another_writer(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(str(path))
    later = time.time() + 360
    assert store.claim_jti(ISS, "warm", later)  # the clean-up is done: the fast path is open
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process (a worker, the ledger) holds the write lock
    started = time.perf_counter()
    assert store.claim_jti_now(ISS, "j1", later) is None  # would wait: left to a thread
    assert time.perf_counter() - started < 1.0  # the other connections would wait up to 10 s (busy_timeout)
    writer.execute("COMMIT")
    assert store.claim_jti_now(ISS, "j1", later) is True  # nothing was written by the refused attempt
    assert store.claim_jti(ISS, "j1", later) is False
    writer.close()
    store.close()


def test_a_claim_on_the_event_loop_waits_for_no_other_claim(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    assert store.claim_jti(ISS, "warm", time.time() + 360)
    with store._jti_lock:  # a claim in a thread is running
        assert store.claim_jti_now(ISS, "j1", time.time() + 360) is None
    store.close()


def test_claims_on_the_event_loop_leave_one_in_so_many_to_a_thread_which_keeps_the_wal_small(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(str(path))
    later = time.time() + 360
    in_a_thread = 0
    for n in range(10 * CHECKPOINT_EVERY_CLAIMS):  # as the authenticator claims: on the loop, else in a thread
        claimed = store.claim_jti_now(ISS, f"j{n}", later)
        if claimed is None:
            in_a_thread += 1
            claimed = store.claim_jti(ISS, f"j{n}", later)
        assert claimed is True
    assert in_a_thread == 10  # the first (clean-up due), then one per CHECKPOINT_EVERY_CLAIMS
    wal = Path(f"{path}-wal").stat().st_size
    assert wal < 8 * 2**20, wal  # without the checkpoints: ~3 pages per claim, 35 MB here
    store.close()
