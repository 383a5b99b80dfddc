"""Limits at the application level (issue 11, points 3, 5 and 7): media types, the preview only in development
mode, 503 when the store does not answer, feedback sizes, rate and retention, the bounded response, and large
evaluations off the event loop. (Socket-level limits: test_connections.py.)"""

from __future__ import annotations

import copy
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from cds import FEEDBACK_URL, HOOK_URL, SIGN_URL, assert_cds_clean, client, seed_request
from support.jwt_keys import TestKey, client_entry, trusted_clients_file

import hooks
from service.cds import pipeline
from service.config import SERVICE_ID
from service.ops import RateLimiter
from service.storage import PostgresStore, SqliteStore

PUBLIC = "https://cds.example.org"
KEY = TestKey.ec384("limits-kid")
OTHER = TestKey.ec384("other-kid")


def production(tmp_path: Path, **overrides):
    clients = trusted_clients_file(tmp_path, [client_entry("https://ehr-a.example.org", keys=[KEY]),
                                              client_entry("https://ehr-b.example.org", keys=[OTHER])])
    return client(tmp_path, allow_unauthenticated=False, public_base_url=PUBLIC, trusted_clients=clients, **overrides)


def signed(path: str, key: TestKey = KEY, iss: str = "https://ehr-a.example.org") -> dict[str, str]:
    return {"Authorization": f"Bearer {key.mint(iss=iss, aud=f'{PUBLIC}{path}')}"}


def issues(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return " | ".join(issue["diagnostics"] for issue in body["issue"])


def feedback(n: int = 1, **extra) -> dict:
    items = [{"card": f"7a5b1f3e-8a3b-4a47-9df3-{i:012d}", "outcome": "accepted",
              "acceptedSuggestions": [{"id": "9c4a0b61-2f9e-4c3e-8c1e-0f6f0a3b2d11"}],
              "outcomeTimestamp": "2026-11-24T10:15:00Z", **extra} for i in range(n)]
    return {"feedback": items}


# --------------------------------------------------------------------------- media types (415)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None, "application/json; charset=latin-1", "application/jsonx"])
@pytest.mark.parametrize("url", [HOOK_URL, FEEDBACK_URL])
def test_a_post_that_is_not_declared_json_is_415_before_its_body_is_read(api, url, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = seed_request() if url == HOOK_URL else feedback()
    response = api.post(url, content=httpx.Request("POST", "/", json=body).content, headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in issues(response)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/fhir+json", "Application/FHIR+JSON;charset=UTF-8"])
def test_json_and_fhir_json_are_accepted_with_a_utf8_charset(api, content_type):
    response = api.post(HOOK_URL, content=httpx.Request("POST", "/", json=seed_request()).content,
                        headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- the preview: development only


def test_the_preview_page_and_its_post_exist_only_in_development_mode(tmp_path, api):
    bundle = {"document": {"resourceType": "Bundle", "type": "collection", "entry": []}}
    assert api.get("/").status_code == 200
    assert api.post("/preview/request", json=bundle).status_code == 400  # mounted (and the Bundle has no draft)
    assert api.post("/preview/request", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    with production(tmp_path) as prod:
        for method, path in [("GET", "/"), ("GET", "/preview/cases"), ("POST", "/preview/request"),
                             ("GET", "/preview/static/app.js")]:
            assert prod.request(method, path, json=bundle).status_code == 404, path


# --------------------------------------------------------------------------- store outage (503)


def test_a_store_outage_during_the_replay_check_is_503_not_401(tmp_path):
    with production(tmp_path) as prod:
        assert prod.get("/cds-services", headers=signed("/cds-services")).status_code == 200
        prod.app.state.runtime.store.close()  # the database goes away
        response = prod.get("/cds-services", headers=signed("/cds-services"))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert "replay store" in issues(response)


def test_a_store_outage_while_storing_feedback_is_503(api):
    api.app.state.runtime.store.close()
    response = api.post(FEEDBACK_URL, json=feedback())
    assert response.status_code == 503 and "feedback store" in issues(response)


# --------------------------------------------------------------------------- feedback sizes


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"card": "c" * 300}, "feedback.0.card"),
        ({"acceptedSuggestions": [{"id": "s" * 300}]}, "feedback.0.acceptedSuggestions.0.id"),
        ({"acceptedSuggestions": [{"id": f"s{i}"} for i in range(21)]}, "feedback.0.acceptedSuggestions"),
        ({"outcome": "overridden", "acceptedSuggestions": None,
          "overrideReason": {"userComment": "x" * 2001}}, "feedback.0.overrideReason.userComment"),
        ({"outcome": "overridden", "acceptedSuggestions": None,
          "overrideReason": {"reason": {"system": "https://r.example.org", "code": "c" * 129}}},
         "feedback.0.overrideReason.reason.code"),
        ({"extension": {"com.example.blob": "b" * 9000}}, "feedback.0: larger than 8192 bytes"),
    ],
    ids=["card", "suggestion-id", "suggestions", "comment", "reason-code", "item"],
)
def test_a_feedback_field_over_its_limit_is_400_naming_it(api, change, named):
    body = feedback()
    body["feedback"][0].update({k: v for k, v in change.items() if v is not None})
    for key in [k for k, v in change.items() if v is None]:
        body["feedback"][0].pop(key)
    response = api.post(FEEDBACK_URL, json=body)
    assert response.status_code == 400, response.text
    assert named in issues(response)
    assert api.app.state.runtime.store.list_feedback(SERVICE_ID) == []


def test_feedback_items_per_request_and_bytes_per_request_are_bounded(tmp_path):
    with client(tmp_path, feedback_max_items=10, feedback_max_bytes=4096) as api:
        assert api.post(FEEDBACK_URL, json=feedback(10)).status_code == 200
        too_many = api.post(FEEDBACK_URL, json=feedback(11))
        assert too_many.status_code == 400 and "at most 10 items" in issues(too_many)
        huge = api.post(FEEDBACK_URL, json={"feedback": [], "padding": "p" * 5000})
        assert huge.status_code == 413 and "larger than 4096 bytes" in issues(huge)
        assert len(api.app.state.runtime.store.list_feedback(SERVICE_ID)) == 10


# --------------------------------------------------------------------------- feedback rate per client


def test_feedback_beyond_the_rate_is_429_with_retry_after_per_issuer(tmp_path):
    with production(tmp_path, feedback_rate_per_min=60, feedback_max_items=20) as prod:
        # burst: max(items per request, 10 s at 1 item/s) = 20 items, then 1 item per second
        assert prod.post(FEEDBACK_URL, json=feedback(20), headers=signed(FEEDBACK_URL)).status_code == 200
        throttled = prod.post(FEEDBACK_URL, json=feedback(5), headers=signed(FEEDBACK_URL))
        assert throttled.status_code == 429, throttled.text
        assert throttled.json()["issue"][0]["code"] == "throttled"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 6
        other = prod.post(FEEDBACK_URL, json=feedback(5), headers=signed(FEEDBACK_URL, OTHER, "https://ehr-b.example.org"))
        assert other.status_code == 200  # another issuer has its own budget
        assert len(prod.app.state.runtime.store.list_feedback(SERVICE_ID)) == 20  # the refused post stored nothing


def test_the_rate_limiter_refills_and_forgets_the_least_recent_clients():
    now = [0.0]
    limiter = RateLimiter(2.0, burst=4, max_clients=2, clock=lambda: now[0])
    assert limiter.take("a", 4) == 0.0
    assert limiter.take("a", 1) == pytest.approx(0.5)  # 1 token at 2/s
    now[0] = 1.0
    assert limiter.take("a", 2) == 0.0  # refilled 2 tokens
    limiter.take("b")
    limiter.take("c")  # "a" is dropped (least recently used): it starts again with a full bucket
    assert limiter.take("a", 4) == 0.0


# --------------------------------------------------------------------------- feedback retention


def _age_all_feedback(path: Path, days: float) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE feedback SET received_at = received_at - ?", (days * 86_400,))
    db.commit()
    db.close()


def test_feedback_older_than_the_retention_is_deleted_at_start_up(tmp_path):
    with client(tmp_path) as api:
        assert api.post(FEEDBACK_URL, json=feedback(3)).json()["new"] == 3
    _age_all_feedback(tmp_path / "state.sqlite3", 400)
    with client(tmp_path) as api:  # default retention: 365 days
        assert api.post(FEEDBACK_URL, json=feedback(1, outcomeTimestamp="2026-11-25T10:15:00Z")).status_code == 200
        deadline = time.monotonic() + 5
        while len(api.app.state.runtime.store.list_feedback(SERVICE_ID)) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        kept = api.app.state.runtime.store.list_feedback(SERVICE_ID)
    assert [item["outcomeTimestamp"] for item in kept] == ["2026-11-25T10:15:00Z"]
    _age_all_feedback(tmp_path / "state.sqlite3", 4000)
    with client(tmp_path, feedback_retention_days=0) as api:  # 0: kept forever
        time.sleep(0.2)
        assert len(api.app.state.runtime.store.list_feedback(SERVICE_ID)) == 1


def _item(n: int) -> dict:
    return {"card": f"card-{n}", "outcome": "overridden", "outcomeTimestamp": "2026-05-01T10:00:00Z",
            "overrideReason": {"userComment": "c"}}


def test_sqlite_store_deletes_feedback_older_than_a_cutoff(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    try:
        store.record_feedback(SERVICE_ID, [_item(1), _item(2)])
        cutoff = time.time() + 1
        store.record_feedback(SERVICE_ID, [])
        assert store.prune_feedback(cutoff - 3600) == 0
        assert store.prune_feedback(cutoff) == 2
        assert store.list_feedback(SERVICE_ID) == []
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_store_deletes_feedback_older_than_a_cutoff(postgres):
    url = postgres.create_database("retention_test")
    store = PostgresStore(url)
    try:
        store.record_feedback(SERVICE_ID, [_item(1), _item(2)])
        assert store.prune_feedback(time.time() - 3600) == 0
        assert store.prune_feedback(time.time() + 1) == 2
        assert store.list_feedback(SERVICE_ID) == []
    finally:
        store.close()
        postgres.drop_database("retention_test")


# --------------------------------------------------------------------------- bounded response, evaluation off the loop


def test_a_response_over_the_limit_is_replaced_by_one_small_card(tmp_path):
    with client(tmp_path, max_response_bytes=5000) as api:
        response = api.post(HOOK_URL, json=seed_request())  # its full answer is ~8.7 kB
    assert response.status_code == 200 and len(response.content) < 2000
    body = response.json()
    assert_cds_clean(body)
    (card,) = body["cards"]
    assert card["indicator"] == "info" and "too large" in card["summary"]
    assert "CDS_MAX_RESPONSE_BYTES" in card["detail"]


def test_healthz_answers_while_a_large_evaluation_runs(api, monkeypatch):
    """A request with more than INLINE_MAX_ITEMS resources is evaluated in a worker thread: a slow evaluation
    (made slow on purpose here, blocking as pure-Python work does) leaves the event loop free."""
    real = hooks.evaluate

    def slow(hook_input):
        time.sleep(1.5)  # holds its thread like a long evaluation; the GIL is released, as between bytecodes
        return real(hook_input)

    monkeypatch.setattr(hooks, "evaluate", slow)
    request = seed_request()
    statement = request["prefetch"]["medicationStatements"]["entry"][0]
    request["prefetch"]["medicationStatements"]["entry"] += [statement] * (pipeline.INLINE_MAX_ITEMS + 1)
    answers: list[int] = []
    worker = threading.Thread(target=lambda: answers.append(api.post(HOOK_URL, json=request).status_code))
    worker.start()
    time.sleep(0.3)  # the evaluation has started
    started = time.monotonic()
    assert api.get("/healthz").status_code == 200
    healthz_s = time.monotonic() - started
    still_evaluating = worker.is_alive()
    worker.join(10)
    assert answers == [200]
    assert still_evaluating and healthz_s < 0.5, healthz_s


# --------------------------------------------------------------------------- bounded work: drafts


def _with_drafts(count: int, *, same_id: bool, hook: str = "order-select") -> dict:
    request = seed_request()
    draft = request["context"]["draftOrders"]["entry"][0]
    entries = []
    for n in range(count):
        entry = copy.deepcopy(draft)
        if not same_id:
            entry["resource"]["id"] = f"draft-{n}"
        entries.append(entry)
    request["context"]["draftOrders"]["entry"] = entries
    request["hook"] = hook
    if hook == "order-sign":
        request["context"].pop("selections")
    return request


def test_ten_thousand_identical_selected_drafts_are_evaluated_once(api):
    response = api.post(HOOK_URL, json=_with_drafts(10_000, same_id=True))
    assert response.status_code == 200
    (card,) = response.json()["cards"]  # one draft, however often it is repeated
    assert card["indicator"] == "warning" and len(response.content) < 20_000


def test_beyond_the_order_limit_one_card_names_the_orders_not_checked(tmp_path):
    with client(tmp_path, max_orders=5) as api:
        response = api.post(SIGN_URL, json=_with_drafts(12, same_id=False, hook="order-sign"))
    body = response.json()
    assert_cds_clean(body)
    checked, (unchecked,) = body["cards"][:-1], body["cards"][-1:]
    assert len(checked) == 5 and all("Upadacitinib" in card["summary"] for card in checked)
    assert unchecked["summary"].startswith("7 more relevant draft orders not checked: at most 5 per call")
    assert unchecked["indicator"] == "warning" and "upadacitinib" in unchecked["detail"]
