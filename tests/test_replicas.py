"""State shared by replicas: PostgresStore on the REAL PostgreSQL of the `postgres` fixture, then two real
`python -m service` processes sharing one database (jti replay across processes, concurrent feedback)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from support import free_port
from support.jwt_keys import TestKey, client_entry, trusted_clients_file

from service.config import SERVICE_ID
from service.storage import PostgresStore, open_store

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parent.parent
ISS = "https://ehr.example.org"
KEY = TestKey.ec384("replica-kid")
FEEDBACK_PATH = f"/cds-services/{SERVICE_ID}/feedback"


@pytest.fixture()
def database(postgres, request):
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    yield url
    try:
        postgres.drop_database(name)
    except Exception:  # noqa: BLE001 - a lingering connection must not fail the test
        pass


def item(n: int, outcome: str = "overridden") -> dict:
    return {"card": f"card-{n}", "outcome": outcome, "outcomeTimestamp": f"2024-05-01T10:{n // 60:02d}:{n % 60:02d}Z",
            "overrideReason": {"reason": {"system": "https://example.org/reasons", "code": "r", "display": "R"}}}


# --------------------------------------------------------------------------- PostgresStore (in process)


def _on_an_event_loop(store: PostgresStore, monkeypatch, scenario) -> None:
    """Run ``scenario()`` in a fresh event loop. Whatever it asserted, the patches are undone and the loop's claims
    pool is closed in that loop (it belongs to it: closed from elsewhere, ``store.close()`` would hang), then the
    store."""
    async def run() -> None:
        try:
            await scenario()
        finally:
            monkeypatch.undo()
            await store.aclose()

    try:
        asyncio.run(run())
    finally:
        store.close()


def _is_claim(query) -> bool:
    return str(query).split()[0] == "INSERT" and "axspa_jti_seen" in str(query)




def test_open_store_dispatches_postgres_urls(database):
    store = open_store(database)
    try:
        assert isinstance(store, PostgresStore) and store.ping()
    finally:
        store.close()


def test_feedback_is_idempotent_and_ordered(database):
    store = PostgresStore(database)
    try:
        assert store.record_feedback(SERVICE_ID, [item(1), item(2), item(1)]) == 2
        assert store.record_feedback(SERVICE_ID, [item(2), item(3)]) == 1
        assert store.record_feedback(SERVICE_ID, []) == 0
        cards = [f["card"] for f in store.list_feedback(SERVICE_ID)]
        assert sorted(cards[:2]) == ["card-1", "card-2"] and cards[2] == "card-3"  # oldest batch first
        assert store.list_feedback("another-service") == []
    finally:
        store.close()
    again = PostgresStore(database)  # schema creation is idempotent; data survives
    try:
        assert len(again.list_feedback(SERVICE_ID)) == 3
        assert item(1) in again.list_feedback(SERVICE_ID)
    finally:
        again.close()


def test_claim_jti_once_per_issuer_until_expiry(database):
    store = PostgresStore(database)
    try:
        later = time.time() + 360
        assert store.claim_jti(ISS, "j1", later) is True
        assert store.claim_jti(ISS, "j1", later) is False
        assert store.claim_jti("https://other.example.org", "j1", later) is True
        assert store.claim_jti(ISS, "old", time.time() - 1) is True
        assert store.claim_jti(ISS, "old", later) is True  # the earlier claim had expired
        assert store.claim_jti(ISS, "old", later) is False
    finally:
        store.close()


def test_a_jti_claim_is_one_statement_on_an_autocommit_connection_with_no_check_before_it(database, monkeypatch):
    """One round trip per production request: no pool check (an empty query), no BEGIN/COMMIT around the INSERT."""
    store = PostgresStore(database)
    try:
        assert store.claim_jti(ISS, "first", time.time() + 300)  # the first claim also runs the clean-up
        sent: list[str] = []
        transactions: list[bool] = []
        execute, transaction = psycopg.Connection.execute, psycopg.Connection.transaction

        def counted_execute(conn, query, *args, **kwargs):
            assert conn.autocommit
            sent.append(str(query).split()[0] if str(query).strip() else "<empty>")
            return execute(conn, query, *args, **kwargs)

        def counted_transaction(conn, *args, **kwargs):
            transactions.append(True)
            return transaction(conn, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", counted_execute)
        monkeypatch.setattr(psycopg.Connection, "transaction", counted_transaction)
        assert store.claim_jti(ISS, "j1", time.time() + 300) is True
        assert store.claim_jti(ISS, "j1", time.time() + 300) is False
        assert sent == ["INSERT", "INSERT"] and transactions == []
        assert store.record_feedback("svc", [item(1)]) == 1  # several statements still run in one transaction
        assert transactions == [True]
    finally:
        store.close()


def test_a_jti_claim_from_the_event_loop_is_one_statement_on_the_loops_own_pool_and_guards_the_same_ids(
        database, postgres, monkeypatch):
    """No thread hop: the claim is one INSERT on an autocommit async connection; claims from the loop and from a
    thread see each other's token ids; after the server drops every connection the claim still succeeds."""
    store = PostgresStore(database)
    sent: list[str] = []
    execute = psycopg.AsyncConnection.execute

    async def counted_execute(conn, query, *args, **kwargs):
        assert conn.autocommit
        sent.append(str(query).split()[0])
        return await execute(conn, query, *args, **kwargs)

    async def scenario() -> None:
        later = time.time() + 300
        assert await store.claim_jti_async(ISS, "first", later)  # the first claim also runs the clean-up
        monkeypatch.setattr(psycopg.AsyncConnection, "execute", counted_execute)
        assert await store.claim_jti_async(ISS, "j1", later) is True
        assert await store.claim_jti_async(ISS, "j1", later) is False
        assert sent == ["INSERT", "INSERT"]
        assert store.claim_jti(ISS, "j1", later) is False  # the thread's pool sees the loop's claim
        assert store.claim_jti(ISS, "j2", later) is True
        assert await store.claim_jti_async(ISS, "j2", later) is False  # ... and the other way round
        with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'axspa-cds'")
        assert await store.claim_jti_async(ISS, "after-restart", later) is True

    _on_an_event_loop(store, monkeypatch, scenario)


def test_concurrent_claims_of_one_jti_from_two_stores_admit_exactly_one(database):
    stores = [PostgresStore(database), PostgresStore(database)]
    try:
        for round_ in range(5):
            jti = f"race-{round_}"
            barrier = threading.Barrier(16)

            def claim(i: int, barrier: threading.Barrier = barrier, jti: str = jti) -> bool:
                barrier.wait()
                return stores[i % 2].claim_jti(ISS, jti, time.time() + 300)

            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(claim, range(16)))
            assert results.count(True) == 1, results
    finally:
        for store in stores:
            store.close()


def test_store_reconnects_after_the_server_drops_its_connections(database, postgres):
    store = PostgresStore(database)
    try:
        assert store.claim_jti(ISS, "before", time.time() + 300)
        with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'axspa-cds'"
            ).fetchone()[0]
        assert killed >= 1
        assert store.ping()
        assert store.claim_jti(ISS, "after", time.time() + 300)
        assert store.claim_jti(ISS, "before", time.time() + 300) is False
    finally:
        store.close()


def _answer_lost_once(execute):
    """``execute`` that runs the first jti claim for real, then fails as if the connection broke before its answer
    arrived (fault injection: the row is committed, the caller does not know)."""
    lost: list[bool] = []

    def failing(conn, query, *args, **kwargs):
        result = execute(conn, query, *args, **kwargs)
        if not lost and _is_claim(query):
            lost.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result

    return failing, lost


def test_a_claim_whose_answer_was_lost_after_it_committed_stands_on_the_retry_and_replays_are_refused(
        database, monkeypatch):
    store = PostgresStore(database)
    try:
        later = time.time() + 300
        assert store.claim_jti(ISS, "first", later)  # the first claim also runs the clean-up
        failing, lost = _answer_lost_once(psycopg.Connection.execute)
        monkeypatch.setattr(psycopg.Connection, "execute", failing)
        assert store.claim_jti(ISS, "lost-answer", later) is True  # the retry found its own row: not a replay
        assert lost == [True]
        assert store.claim_jti(ISS, "lost-answer", later) is False  # the token presented again is a replay
    finally:
        store.close()


def test_a_claim_from_the_event_loop_whose_answer_was_lost_stands_on_the_retry(database, monkeypatch):
    store = PostgresStore(database)
    execute = psycopg.AsyncConnection.execute
    lost: list[bool] = []

    async def failing(conn, query, *args, **kwargs):  # _answer_lost_once, awaited
        result = await execute(conn, query, *args, **kwargs)
        if not lost and _is_claim(query):
            lost.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result

    async def scenario() -> None:
        later = time.time() + 300
        assert await store.claim_jti_async(ISS, "first", later)
        monkeypatch.setattr(psycopg.AsyncConnection, "execute", failing)
        assert await store.claim_jti_async(ISS, "lost-answer", later) is True
        assert lost == [True]
        assert await store.claim_jti_async(ISS, "lost-answer", later) is False
        assert store.claim_jti(ISS, "lost-answer", later) is False  # and from a thread

    _on_an_event_loop(store, monkeypatch, scenario)


def test_a_replay_store_made_before_claims_carried_a_nonce_is_upgraded_and_its_rows_still_refuse_replays(database):
    later = time.time() + 300
    with psycopg.connect(database, autocommit=True) as conn:  # the table as the earlier version created it
        conn.execute("CREATE TABLE axspa_jti_seen (issuer TEXT NOT NULL, jti TEXT NOT NULL, "
                     "expires_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (issuer, jti))")
        conn.execute("INSERT INTO axspa_jti_seen VALUES (%s, %s, %s)", (ISS, "seen-before", later))
    store = PostgresStore(database)
    try:
        assert store.claim_jti(ISS, "seen-before", later) is False
        assert store.claim_jti(ISS, "new", later) is True
        assert store.claim_jti(ISS, "new", later) is False
    finally:
        store.close()


def test_a_start_on_an_up_to_date_replay_table_takes_no_exclusive_lock(database, monkeypatch):
    """ALTER TABLE locks the table even when the column exists: a replica starting must not stall the others'
    claims, so the upgrade runs only on a table that lacks the column."""
    PostgresStore(database).close()  # creates the schema
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def recorded(conn, query, *args, **kwargs):
        sent.append(str(query).split()[0].upper())
        return execute(conn, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recorded)
    store = PostgresStore(database)
    try:
        assert "CREATE" in sent and "ALTER" not in sent
        assert store.claim_jti(ISS, "j1", time.time() + 300) is True
    finally:
        store.close()


# --------------------------------------------------------------------------- two real service processes


class ServiceProcess:
    def __init__(self, name: str, database_url: str, clients_file: Path, log_dir: Path) -> None:
        self.name = name
        self.database_url = database_url
        self.clients_file = clients_file
        self.log_path = log_dir / f"{name}.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
        env.update(
            CDS_DATABASE_URL=self.database_url,
            CDS_TRUSTED_CLIENTS=str(self.clients_file),
            CDS_PUBLIC_BASE_URL=self.base,
            CDS_LOG_LEVEL="DEBUG",
            PYTHONPATH=str(REPO),
        )
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "service", "--port", str(self.port)], cwd=REPO,
                                     env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def token(self, path: str, *, aud: object | None = None, jti: str | None = None) -> str:
        kwargs = {"jti": jti} if jti else {}
        return KEY.mint(iss=ISS, aud=aud if aud is not None else f"{self.base}{path}", **kwargs)


@pytest.fixture()
def replicas(database, tmp_path):
    clients = trusted_clients_file(tmp_path, [client_entry(ISS, keys=[KEY])])
    started = time.monotonic()
    pair = [ServiceProcess(n, database, clients, tmp_path).start() for n in ("a", "b")]
    try:
        for p in pair:
            p.wait_ready()
        pair[0].startup_s = time.monotonic() - started  # type: ignore[attr-defined]
        yield pair
    finally:
        for p in pair:
            p.stop()


def test_a_jti_accepted_by_one_replica_is_refused_by_the_other(replicas):
    a, b = replicas
    both = [f"{a.base}/cds-services", f"{b.base}/cds-services"]
    token = KEY.mint(iss=ISS, aud=both)
    assert httpx.get(f"{a.base}/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    replay = httpx.get(f"{b.base}/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert replay.status_code == 401 and replay.content == b'{"error":"unauthorized"}'
    token2 = KEY.mint(iss=ISS, aud=both)
    assert httpx.get(f"{b.base}/cds-services", headers={"Authorization": f"Bearer {token2}"}).status_code == 200
    assert httpx.get(f"{a.base}/cds-services", headers={"Authorization": f"Bearer {token2}"}).status_code == 401
    # each replica checks aud against its own public URL
    only_a = KEY.mint(iss=ISS, aud=f"{a.base}/cds-services")
    assert httpx.get(f"{b.base}/cds-services", headers={"Authorization": f"Bearer {only_a}"}).status_code == 401
    for p in (a, b):
        p.stop()
    logs = a.log_path.read_text() + b.log_path.read_text()
    assert '"check":"replay"' in logs and '"check":"wrong-audience"' in logs
    for t in (token, token2, only_a):
        assert t not in logs and t.split(".")[2] not in logs


def test_concurrent_feedback_from_two_replicas_is_all_there_after_restart(replicas, database, record_property):
    a, b = replicas
    # 2 x 50 requests in parallel; A sends items 0..49, B sends 30..79 (20 overlap), and 5 of each
    # replica's requests repeat an item that replica already sent (duplicates within a replica).
    plan = [(a, n) for n in list(range(50))[:45] + [0, 1, 2, 3, 4]] + \
           [(b, n) for n in list(range(30, 80))[:45] + [30, 31, 32, 33, 34]]
    expected = {n for _, n in plan}
    assert len(plan) == 100 and len(expected) == 75

    def send(job: tuple[ServiceProcess, int]) -> int:
        replica, n = job
        response = httpx.post(f"{replica.base}{FEEDBACK_PATH}", json={"feedback": [item(n)]}, timeout=20,
                              headers={"Authorization": f"Bearer {replica.token(FEEDBACK_PATH)}"})
        assert response.status_code == 200, response.text
        return response.json()["new"]

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        new = sum(pool.map(send, plan))
    elapsed = time.monotonic() - started
    assert new == len(expected)  # every item counted as new exactly once, across both processes

    for p in (a, b):
        p.stop()
    restart_started = time.monotonic()
    for p in (a, b):
        p.start()
    for p in (a, b):
        p.wait_ready()
    restart_s = time.monotonic() - restart_started
    again = httpx.post(f"{a.base}{FEEDBACK_PATH}", json={"feedback": [item(n) for n in sorted(expected)]},
                       headers={"Authorization": f"Bearer {a.token(FEEDBACK_PATH)}"}, timeout=20)
    assert again.json() == {"received": 75, "new": 0}
    store = PostgresStore(database)
    try:
        stored = store.list_feedback(SERVICE_ID)
    finally:
        store.close()
    assert len(stored) == 75
    assert {f["card"] for f in stored} == {f"card-{n}" for n in expected}
    record_property("feedback_100_requests_s", round(elapsed, 2))
    record_property("restart_two_replicas_s", round(restart_s, 2))
    print(f"\nreplicas: start {a.startup_s:.2f}s, 100 feedback requests {elapsed:.2f}s, restart {restart_s:.2f}s")


def test_ledger_rows_are_shared_by_replicas_and_joined_to_feedback_sent_to_the_other(replicas, database):
    from cds import seed_request

    from service.governance.report import build_report

    a, b = replicas
    hook_path = f"/cds-services/{SERVICE_ID}"
    request = seed_request()
    shown = []
    for replica in (a, b, a):  # order-select fires again for the same order: one card, shown three times
        response = httpx.post(f"{replica.base}{hook_path}", json=request, timeout=20,
                              headers={"Authorization": f"Bearer {replica.token(hook_path)}"})
        assert response.status_code == 200, response.text
        shown.append(response.json()["cards"])
    assert shown[0] == shown[1] == shown[2] and shown[0]
    card = shown[0][0]
    accepted = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-24T10:00:00Z",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
    response = httpx.post(f"{b.base}{FEEDBACK_PATH}", json={"feedback": [accepted]}, timeout=20,
                          headers={"Authorization": f"Bearer {b.token(FEEDBACK_PATH)}"})
    assert response.status_code == 200
    for p in (a, b):
        p.stop()  # each replica flushes its ledger writer on shutdown
    store = PostgresStore(database)
    try:
        rows = {row.card_uuid: row for row in store.ledger_cards(None, None)}
        assert set(rows) == {c["uuid"] for c in shown[0]}
        assert rows[card["uuid"]].times_shown == 3 and rows[card["uuid"]].feedback == (accepted,)
        (counts,) = [c for c in build_report(store, None, None).rules.values() if c.accepted]
        assert counts.accepted == 1 and sum(counts.accepted_drugs.values()) == 1
    finally:
        store.close()
