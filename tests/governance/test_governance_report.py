"""``python -m service report``: its counts equal what the test posted (cards from real hook calls, then feedback:
accepted with a suggestion, overridden with reason codes and comments, ignored), its period, its table, its charts
(SVG parsed, PNG by signature and size), its refusals; and the rule metrics agree with it."""

from __future__ import annotations

import json
import struct
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from cds import FEEDBACK_URL, HOOK_URL, client, with_every_key

from service.governance import report
from service.storage import SqliteStore
from service.storage.ledger import LedgerRow

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fhir_fixtures").rglob("in-*.request.json"))
COMMENT = "Patient prefers an infusion clinic near home"


def _rule(card: dict[str, Any]) -> str:
    return (card["source"].get("topic") or {}).get("code", "unknown")


def _drug(suggestion: dict[str, Any]) -> str:
    created = [a["resource"] for a in suggestion["actions"] if a["type"] == "create"]
    return created[0]["medicationCodeableConcept"]["text"].split()[0].lower() if created else "remove-draft"


def _item(card: dict[str, Any], outcome: str, when: str, *, suggestion: int = 0, code: str | None = None,
          comment: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": when}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": card["suggestions"][suggestion]["uuid"]}]
    else:
        reason: dict[str, Any] = {}
        if code:
            reason["reason"] = {"system": "https://github.com/axspa-cds/axspa-cds/CodeSystem/override-reason",
                                "code": code}
        if comment:
            reason["userComment"] = comment
        item["overrideReason"] = reason
    return item


@pytest.fixture(scope="module")
def posted(tmp_path_factory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Real hook calls, then feedback on their cards; returns the SQLite file and the expected report rules."""
    tmp = tmp_path_factory.mktemp("report")
    shown: list[dict[str, Any]] = []
    with client(tmp) as api:
        for path in FIXTURES:
            shown += api.post(HOOK_URL, json=with_every_key(json.loads(path.read_text()))).json()["cards"]
            cards = [c for c in shown if len(c.get("suggestions") or []) >= 2]
            if len(cards) >= 8:
                break
        assert len(cards) >= 8, "the fixtures give at least 8 cards with two suggestions"
        a, b, c, d, e, f, g, h = cards[:8]
        feedback = [
            _item(a, "accepted", "2026-11-24T10:00:00Z", suggestion=1),
            _item(b, "accepted", "2026-11-24T10:01:00Z"),
            _item(c, "overridden", "2026-11-24T10:02:00Z", code="formulary", comment=COMMENT),
            _item(d, "overridden", "2026-11-24T10:03:00Z", code="patient-preference"),
            _item(e, "overridden", "2026-11-24T10:04:00Z", comment="Discussed in clinic"),  # no reason code
            _item(f, "overridden", "2026-11-24T10:05:00Z", code="clinical-judgement"),
            _item(f, "accepted", "2026-11-24T10:09:00Z"),  # changed their mind: the latest feedback counts
            {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-24T10:06:00Z",
             "acceptedSuggestions": [{"id": "x"}]},  # a card the ledger never saw
        ]
        response = api.post(FEEDBACK_URL, json={"feedback": feedback})
        assert response.status_code == 200 and response.json()["new"] == len(feedback)
        # g and h: shown, no feedback (ignored)
    expected: dict[str, dict[str, Any]] = {}

    def counts(card: dict[str, Any]) -> dict[str, Any]:
        return expected.setdefault(_rule(card), {"shown": 0, "accepted": 0, "overridden": 0, "ignored": 0,
                                                 "override_reasons": Counter(), "comments": 0,
                                                 "accepted_drugs": Counter()})

    for card in shown:
        counts(card)["shown"] += 1
    for card, index in ((a, 1), (b, 0), (f, 0)):
        counts(card)["accepted"] += 1
        counts(card)["accepted_drugs"][_drug(card["suggestions"][index])] += 1
    for card, code, comment in ((c, "formulary", 1), (d, "patient-preference", 0), (e, "none", 1)):
        counts(card)["overridden"] += 1
        counts(card)["override_reasons"][code] += 1
        counts(card)["comments"] += comment
    answered = {card["uuid"] for card in (a, b, c, d, e, f)}
    for card in shown:
        if card["uuid"] not in answered:  # g, h and the cards with fewer than two suggestions
            counts(card)["ignored"] += 1
    return tmp / "state.sqlite3", expected


def _all_cards(database: Path) -> int:
    store = SqliteStore(str(database))
    try:
        return len(list(store.ledger_cards(None, None)))
    finally:
        store.close()


def _run(monkeypatch, capsys, database: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{database}")
    try:
        code = report.main(list(args))
    except SystemExit as exc:  # argparse refusals exit from the parser
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_report_counts_equal_what_was_posted(posted, monkeypatch, capsys):
    database, expected = posted
    code, out, err = _run(monkeypatch, capsys, database, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result["rules"]) == set(expected)
    for rule_id, want in expected.items():
        assert result["rules"][rule_id] == {**want, "override_reasons": dict(want["override_reasons"]),
                                            "accepted_drugs": dict(want["accepted_drugs"])}, rule_id
    assert sum(rule["shown"] for rule in result["rules"].values()) == _all_cards(database)
    assert result["unmatched_feedback"] == 1
    assert (result["since"], result["until"]) == (None, None)


def test_report_text_counts_comments_and_never_prints_them(posted, monkeypatch, capsys):
    database, expected = posted
    code, out, _ = _run(monkeypatch, capsys, database)
    assert code == 0
    assert COMMENT not in out and "Discussed in clinic" not in out
    assert "formulary 1" in out and "with a comment (not shown)" in out
    for rule_id in expected:
        assert any(line.startswith(rule_id + " ") for line in out.splitlines()), rule_id
    assert "cards not in the ledger: 1" in out


def test_the_period_counts_cards_by_the_day_they_were_first_shown(tmp_path, monkeypatch, capsys):
    database = tmp_path / "period.sqlite3"
    store = SqliteStore(str(database))

    def at(day: str, hour: int) -> float:
        return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()

    store.record_cards([LedgerRow("nov-30", "tnfi_first", "order-select", "info", (), at("2026-11-30", 23)),
                        LedgerRow("dec-01", "tnfi_first", "order-select", "info", (), at("2026-12-01", 0)),
                        LedgerRow("dec-02", "tnfi_first", "order-select", "info", (), at("2026-12-02", 23)),
                        LedgerRow("dec-03", "tnfi_first", "order-select", "info", (), at("2026-12-03", 0))])
    store.close()
    code, out, _ = _run(monkeypatch, capsys, database, "--since", "2026-12-01", "--until", "2026-12-02", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["rules"]["tnfi_first"]["shown"] == 2  # both days inclusive, UTC
    assert (result["since"], result["until"]) == ("2026-12-01", "2026-12-02")
    assert report.period_bounds(date(2026, 12, 1), None) == (at("2026-12-01", 0), None)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_plots_are_a_valid_svg_and_png(posted, monkeypatch, capsys, tmp_path):
    if not _in_ci():
        pytest.importorskip("matplotlib")  # the `plot` extra; CI installs it, so there this never skips
    database, expected = posted
    svg, png = tmp_path / "rates.svg", tmp_path / "rates.png"
    assert _run(monkeypatch, capsys, database, "--plot", str(svg))[0] == 0
    assert _run(monkeypatch, capsys, database, "--plot", str(png), "--json")[0] == 0
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = svg.read_text()
    for rule_id in expected:
        assert f">{rule_id}<" in text  # each rule labels its bar (text kept as text)
    width, height = _png_size(png.read_bytes())
    assert width > 400 and height > 100


def _in_ci() -> bool:
    from support import in_ci

    return in_ci()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-12-05", "--until", "2026-12-01"], "--until is before --since"),
        (["--since", "yesterday"], "not an ISO date"),
        (["--plot", "chart.pdf"], ".svg or .png"),
    ],
)
def test_report_refuses_bad_options_in_one_line(posted, monkeypatch, capsys, args, message):
    code, out, err = _run(monkeypatch, capsys, posted[0], *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_report_never_creates_a_store(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nowhere.sqlite3"
    code, _, err = _run(monkeypatch, capsys, missing)
    assert code == 2 and "does not exist" in err and not missing.exists()


def test_rule_metrics_agree_with_the_report_when_each_card_has_one_feedback(tmp_path):
    from test_metrics import scrape, value

    with client(tmp_path) as api:
        cards: list[dict[str, Any]] = []
        for path in FIXTURES[:12]:
            cards += api.post(HOOK_URL, json=with_every_key(json.loads(path.read_text()))).json()["cards"]
        with_suggestions = [c for c in cards if c.get("suggestions")]
        accepted, overridden = with_suggestions[:2], with_suggestions[2:4]
        items = [_item(c, "accepted", "2026-11-24T10:00:00Z") for c in accepted] + \
                [_item(c, "overridden", "2026-11-24T10:00:00Z", code="formulary") for c in overridden]
        assert api.post(FEEDBACK_URL, json={"feedback": items}).status_code == 200
        runtime = api.app.state.runtime
        assert runtime.ledger.flush()
        samples = scrape(api)
        rules = report.build_report(runtime.store, None, None).rules
    assert rules
    for rule_id, counts in rules.items():
        for outcome in ("shown", "accepted", "overridden"):
            assert value(samples, "cds_rule_cards_total", rule=rule_id, outcome=outcome) == getattr(counts, outcome)
