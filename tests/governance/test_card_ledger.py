"""The card ledger: the store methods (SQLite and the real PostgreSQL), the background writer (batches, a full
queue, a failing store, the flush at shutdown, retention), what the endpoint records, and what it never records."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cds import FEEDBACK_URL, HOOK_URL, client, seed_request

from service.cds import CDSRequest, Evaluated, pipeline
from service.governance.cards import REMOVE_ONLY, UNKNOWN_RULE, rule_of
from service.governance.ledger import LedgerWriter
from service.ops import Metrics
from service.storage import PostgresStore, SqliteStore
from service.storage import postgres as postgres_store
from service.storage import sqlite as sqlite_store
from service.storage.ledger import LedgerRow

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fhir_fixtures").rglob("*.request.json"))
NOW = time.time()


def row(card: str, rule: str = "tnfi_first", shown_at: float = NOW, **extra: Any) -> LedgerRow:
    values: dict[str, Any] = {"hook": "order-select", "indicator": "warning",
                              "suggestions": ((f"{card}-s1", "secukinumab"), (f"{card}-s2", None))}
    values.update(extra)
    return LedgerRow(card, rule, values["hook"], values["indicator"], values["suggestions"], shown_at)


def feedback(card: str, outcome: str = "accepted", when: str = "2026-11-24T10:00:00Z") -> dict[str, Any]:
    item: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": when}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": f"{card}-s1"}]
    else:
        item["overrideReason"] = {"reason": {"system": "https://example.org/r", "code": "formulary"}}
    return item


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        opened: Any = SqliteStore(str(tmp_path / "ledger.sqlite3"))
        yield opened
        opened.close()
        return
    pg = request.getfixturevalue("postgres")
    name = f"l_{uuid.uuid4().hex[:12]}"
    opened = PostgresStore(pg.create_database(name))
    yield opened
    opened.close()
    pg.drop_database(name)


# --------------------------------------------------------------------------------------------- the store


def test_a_card_shown_again_is_one_row_counted_twice_with_its_latest_rule(store):
    assert store.record_cards([row("c1"), row("c2")]) == [row("c1"), row("c2")]
    again = row("c1", rule="il17i_failure_switch", shown_at=NOW + 5, indicator="critical")
    assert store.record_cards([again, row("c3")]) == [row("c3")]  # only c3 is new
    cards = {c.card_uuid: c for c in store.ledger_cards(None, None)}
    assert set(cards) == {"c1", "c2", "c3"}
    assert cards["c1"].times_shown == 2 and cards["c1"].first_shown == pytest.approx(NOW)
    assert (cards["c1"].rule_id, cards["c1"].indicator) == ("il17i_failure_switch", "critical")
    assert cards["c2"].suggestions == (("c2-s1", "secukinumab"), ("c2-s2", None))
    assert store.card_rules(["c1", "c3", "nope"]) == {"c1": "il17i_failure_switch", "c3": "tnfi_first"}


def test_one_card_twice_in_a_batch_is_one_new_row(store):
    new = store.record_cards([row("d1", shown_at=NOW), row("d1", shown_at=NOW + 1), row("d2")])
    assert sorted(r.card_uuid for r in new) == ["d1", "d2"]
    (d1,) = [c for c in store.ledger_cards(None, None) if c.card_uuid == "d1"]
    assert d1.times_shown == 2 and d1.first_shown == pytest.approx(NOW)


def test_feedback_is_joined_by_card_uuid_across_pages(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PAGE", 2)
    monkeypatch.setattr(postgres_store, "PAGE", 2)
    store.record_cards([row(f"p{n}") for n in range(5)])
    store.record_feedback("axspa-therapy-switch", [feedback("p1"), feedback("p3", "overridden"),
                                                   feedback("p3", when="2026-11-25T10:00:00Z"), feedback("zz")])
    cards = list(store.ledger_cards(None, None))
    assert [c.card_uuid for c in cards] == ["p0", "p1", "p2", "p3", "p4"]  # every card once, in order
    assert [len(c.feedback) for c in cards] == [0, 1, 0, 2, 0]
    assert {f["outcome"] for f in cards[3].feedback} == {"accepted", "overridden"}
    assert store.unmatched_feedback(None, None) == 1  # "zz" names no ledger card
    assert store.unmatched_feedback(time.time() + 60, None) == 0  # received before that


def test_the_period_is_the_day_a_card_was_first_shown_and_retention_the_day_it_was_last_shown(store):
    day = 86_400.0
    store.record_cards([row("old", shown_at=NOW - 10 * day), row("mid", shown_at=NOW - 5 * day), row("new")])
    store.record_cards([row("old", shown_at=NOW - 1 * day)])  # shown again 9 days later
    assert [c.card_uuid for c in store.ledger_cards(NOW - 6 * day, NOW - day)] == ["mid"]
    assert store.prune_cards(NOW - 3 * day) == 1  # "mid"; "old" was shown again since
    assert [c.card_uuid for c in store.ledger_cards(None, None)] == ["new", "old"]


# --------------------------------------------------------------------------------------------- the writer


def _evaluated(request: dict[str, Any]) -> Evaluated:
    import asyncio

    outcome = asyncio.run(pipeline.run(CDSRequest.model_validate(request), None, date.today()))
    assert isinstance(outcome, Evaluated) and outcome.response.cards
    return outcome


def _dropped(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value("cds_ledger_dropped_rows_total", {"reason": reason}) or 0.0


def test_a_full_queue_drops_the_rows_counts_them_and_leaves_the_answer_alone(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    metrics = Metrics()
    writer = LedgerWriter(store, metrics, queue_size=1, retention_days=30)  # not started: nothing drains the queue
    result = _evaluated(seed_request())
    body = result.body()
    writer.answered(result)
    writer.answered(result)
    writer.answered(result)
    assert _dropped(metrics, "queue-full") == 2 * len(result.response.cards)
    assert result.body() == body
    writer.start()
    writer.stop()  # writes what was queued
    assert len(list(store.ledger_cards(None, None))) == len(result.response.cards)
    store.close()


class FailingOnce:
    """Fault injection: the first ledger write fails as if the database went away."""

    def __init__(self, store: SqliteStore) -> None:
        self.store, self.failed = store, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def record_cards(self, rows: list[LedgerRow]) -> list[LedgerRow]:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database is locked")
        return self.store.record_cards(rows)


def test_a_failed_write_drops_its_batch_counts_it_and_the_writer_goes_on(tmp_path):
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    metrics = Metrics()
    writer = LedgerWriter(FailingOnce(store), metrics, queue_size=100, retention_days=30).start()  # type: ignore[arg-type]
    first = _evaluated(seed_request())
    writer.answered(first)
    assert writer.flush()
    assert _dropped(metrics, "store-error") == len(first.response.cards)
    other = seed_request()
    other["hookInstance"] = str(uuid.uuid4())
    second = _evaluated(other)
    writer.answered(second)
    writer.stop()
    assert [c.card_uuid for c in store.ledger_cards(None, None)] == [c.uuid for c in second.response.cards]
    assert metrics.registry.get_sample_value("cds_ledger_written_rows_total") == len(second.response.cards)
    store.close()


def test_shutdown_flushes_every_queued_answer(tmp_path):
    with client(tmp_path) as api:
        hook_instances = [str(uuid.uuid4()) for _ in range(40)]
        for hook_instance in hook_instances:
            request = seed_request()
            request["hookInstance"] = hook_instance
            assert api.post(HOOK_URL, json=request).status_code == 200
    # the app has stopped: the lifespan flushed the writer before closing the store
    store = SqliteStore(str(tmp_path / "state.sqlite3"))
    assert len(list(store.ledger_cards(None, None))) == 40
    store.close()


def test_rows_past_retention_are_deleted_at_start(tmp_path):
    store = SqliteStore(str(tmp_path / "state.sqlite3"))
    store.record_cards([row("ancient", shown_at=NOW - 3 * 86_400), row("recent", shown_at=NOW - 3_600)])
    store.close()
    with client(tmp_path, ledger_retention_days=1) as api:
        assert api.app.state.runtime.ledger.flush()
        assert [c.card_uuid for c in api.app.state.runtime.store.ledger_cards(None, None)] == ["recent"]


# --------------------------------------------------------------------------------------------- the endpoint


def _drug(resource: dict[str, Any]) -> str:
    return resource["medicationCodeableConcept"]["text"].split()[0].lower()


def test_the_endpoint_records_each_card_with_its_rule_hook_indicator_and_suggested_drugs(api):
    cards = api.post(HOOK_URL, json=seed_request()).json()["cards"]
    assert cards
    runtime = api.app.state.runtime
    assert runtime.ledger.flush()
    rows = {c.card_uuid: c for c in runtime.store.ledger_cards(None, None)}
    assert set(rows) == {card["uuid"] for card in cards}
    for card in cards:
        stored = rows[card["uuid"]]
        topic = card["source"].get("topic") or {}
        assert stored.rule_id == topic.get("code", UNKNOWN_RULE)
        assert (stored.hook, stored.indicator, stored.times_shown) == ("order-select", card["indicator"], 1)
        expected = []
        for suggestion in card.get("suggestions") or []:
            created = [a["resource"] for a in suggestion.get("actions") or [] if a["type"] == "create"]
            expected.append((suggestion["uuid"], _drug(created[0]) if created else REMOVE_ONLY))
        assert list(stored.suggestions) == expected


def test_card_uuids_are_unique_in_a_response_and_stable_for_the_same_request(api):
    request = seed_request()
    request["hook"] = "order-sign"
    request["context"].pop("selections")
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft.pop("id")  # two drafts without an id: the hook derives the same uuid for both
    request["context"]["draftOrders"]["entry"].append({"resource": copy.deepcopy(draft)})
    first = api.post(HOOK_URL, json=request).json()["cards"]
    again = api.post(HOOK_URL, json=request).json()["cards"]
    assert len(first) == 2
    assert len({c["uuid"] for c in first}) == 2
    suggestion_ids = [s["uuid"] for c in first for s in c.get("suggestions") or []]
    assert len(suggestion_ids) == len(set(suggestion_ids))
    assert first == again  # same request, same uuids: feedback joins whichever firing was acted on
    runtime = api.app.state.runtime
    assert runtime.ledger.flush()
    assert [c.times_shown for c in runtime.store.ledger_cards(None, None)] == [2, 2]


def test_rule_metrics_count_distinct_cards_shown_and_feedback_on_ledger_cards(api):
    from test_metrics import scrape, value

    request = seed_request()
    cards = [api.post(HOOK_URL, json=request).json()["cards"] for _ in range(3)][0]  # one card, shown 3 times
    runtime = api.app.state.runtime
    assert runtime.ledger.flush()
    card = cards[0]
    rule = rule_of_json(card)
    item = feedback(card["uuid"])
    item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    assert api.post(FEEDBACK_URL, json={"feedback": [item, feedback("not-a-ledger-card", "overridden")]}).status_code \
        == 200
    assert runtime.ledger.flush()
    samples = scrape(api)
    assert value(samples, "cds_rule_cards_total", rule=rule, outcome="shown") == len(cards)
    assert value(samples, "cds_rule_cards_total", rule=rule, outcome="accepted") == 1
    assert sum(v for (name, labels), v in samples.items()
               if name == "cds_rule_cards_total" and ("outcome", "overridden") in labels) == 0


def rule_of_json(card: dict[str, Any]) -> str:
    from service.cds import Card

    return rule_of(Card.model_validate(card))


def _phrases(request: dict[str, Any]) -> set[str]:
    """What identifies the patient or quotes the record: ids, identifiers, names, and every free text."""
    found = {request["context"]["patientId"], request["hookInstance"], request["context"]["userId"]}
    texts: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in ("text", "div", "family", "given", "value", "id", "comment",
                                                  "description", "display"):
            texts.append(value)

    walk(request.get("prefetch"))
    walk(request["context"]["draftOrders"])
    found.update(t for t in texts if " " in t.strip() or any(ch.isdigit() for ch in t))  # phrases, ids, codes
    return found


def test_ledger_rows_never_hold_a_patient_identifier_or_record_text(tmp_path):
    from hooks.knowledge import knowledge

    requests = [json.loads(path.read_text()) for path in FIXTURES]
    with client(tmp_path) as api:
        shown = sum(len(api.post(HOOK_URL, json=request).json()["cards"]) for request in requests)
    assert shown > 20
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    rows = db.execute("SELECT * FROM card_ledger").fetchall()
    columns = [c[1] for c in db.execute("PRAGMA table_info(card_ledger)")]
    db.close()
    assert len(rows) == shown
    assert columns == ["card_uuid", "rule_id", "hook", "indicator", "suggestions", "first_shown", "last_shown",
                       "times_shown"]
    # every value is of a closed kind: a uuid, a rule id, a hook, an indicator, a drug key, a number
    rules, drugs = set(knowledge().rules) | {UNKNOWN_RULE}, set(knowledge().drugs) | {REMOVE_ONLY, None}
    for card_uuid, rule_id, hook, indicator, suggestions, first, last, times in rows:
        uuid.UUID(card_uuid)
        assert rule_id in rules and hook in ("order-select", "order-sign")
        assert indicator in ("info", "warning", "critical")
        for suggestion_uuid, drug in json.loads(suggestions):
            uuid.UUID(suggestion_uuid)
            assert drug in drugs
        assert isinstance(first, float) and isinstance(last, float) and isinstance(times, int)
    stored_uuids = {r[0] for r in rows} | {s for r in rows for s, _ in json.loads(r[4])}
    assert not stored_uuids & {request["hookInstance"] for request in requests}
    # and the scan: no patient id, hookInstance or user, no phrase of the record, in any text of the rows (uuids
    # masked: they are checked above, and a record's digits could occur in their hex by chance)
    dump = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>",
                  "\n".join(json.dumps(r[:5]) for r in rows).lower())
    leaked = sorted(p for request in requests for p in _phrases(request) if p.lower() in dump)
    assert not leaked, f"ledger rows contain record content: {leaked[:5]}"
