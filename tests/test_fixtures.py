"""Every fixture request in fhir_fixtures/ against its expectation (see fhir_fixtures/README.md).

For each ``<rule>/<case>.request.json``: (a) it is a valid CDS Hooks request and its expectation is well formed,
(b) its FHIR content is valid R4 (except deliberately malformed ``messy/`` cases), (c) the service's request pipeline,
evaluated on the fixtures' date (2026-11-24), answers as ``<case>.expected.json`` says (the rules that must and must
not produce a card, the suggestions, the indicator), and (d) the HTTP endpoint returns exactly what the pipeline
decides. The committed JSON is exactly what ``fhir_fixtures/_build.py`` writes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cds import HOOK_URL, client

from fhir_fixtures import _build
from hooks.knowledge import knowledge
from service.cds import CDSRequest, CDSResponse
from service.cds.pipeline import Evaluated, run
from service.fhir import PREFETCH_KEYS

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fhir_fixtures"
REQUESTS = sorted(FIXTURES.rglob("*.request.json"))
FIXTURE_DAY = date.fromisoformat(_build.TODAY)
SEVERITY = {"info": 0, "warning": 1, "critical": 2}
EXPECTATION_KEYS = {
    "description", "rule", "source", "cards", "indicator", "fires", "never_fires", "recommended_any_of",
    "suggests_any_of", "suggests_from_each", "never_suggests", "deletes_selection", "text_mentions",
    "text_never_mentions", "malformed",
}
#: Rules that shape a card's content but never head one (ranking, standing care, information): no fixture can
#: show them in source.topic, so they are exercised through the suggestions and the clinical tests.
NEVER_A_CARD_TOPIC = {
    "tnfi_first", "tnfi_adverse_event_not_nonresponse", "il17i_failure_switch", "pregnancy_certolizumab",
    "reevaluate_diagnosis", "previously_tried", "continue_nsaid", "physical_therapy", "reassess_response",
}


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.request.json')}"


def _load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    expected = path.with_name(path.name.replace(".request.json", ".expected.json"))
    return json.loads(path.read_text()), json.loads(expected.read_text())


CASES = [pytest.param(p, id=_case_id(p)) for p in REQUESTS]


def test_the_committed_fixtures_are_exactly_what_the_builder_writes(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text((FIXTURES / "README.md").read_text())
    count = _build.write(tmp_path)
    built = {p.relative_to(tmp_path): p.read_text() for p in tmp_path.rglob("*.json")}
    committed = {p.relative_to(FIXTURES): p.read_text() for p in FIXTURES.rglob("*.json") if not p.name.startswith("_")}
    assert count == len(REQUESTS)
    assert sorted(built) == sorted(committed), "run `python -m fhir_fixtures._build` and commit the result"
    stale = [str(k) for k in built if built[k] != committed[k]]
    assert not stale, f"committed fixtures differ from the builder's output: {stale[:5]}"
    assert (tmp_path / "README.md").read_text() == (FIXTURES / "README.md").read_text(), "README index is stale"


def test_every_rule_folder_has_an_in_and_an_out_case() -> None:
    folders: dict[str, set[str]] = {}
    for path in REQUESTS:
        folders.setdefault(path.parent.name, set()).add(path.name.split("-", 1)[0])
    missing = {f: {"in", "out"} - kinds for f, kinds in folders.items() if {"in", "out"} - kinds}
    assert not missing, f"rule folders without both an in- and an out- case: {missing}"


def test_every_rule_that_heads_a_card_has_a_case_that_fires_it_and_one_that_must_not() -> None:
    fires: set[str] = set()
    never: set[str] = set()
    for path in REQUESTS:
        _, expected = _load(path)
        fires |= set(expected.get("fires", []))
        never |= set(expected.get("never_fires", []))
    rules = set(knowledge().rules)
    assert fires | never <= rules, f"expectations name unknown rules: {sorted((fires | never) - rules)}"
    assert not fires & NEVER_A_CARD_TOPIC
    assert rules - NEVER_A_CARD_TOPIC <= fires, f"no in-case fires {sorted(rules - NEVER_A_CARD_TOPIC - fires)}"
    quiet = {"tb_screening", "hbv_screening", "no_combined_advanced", "non_recommended_biologic"}
    unguarded = sorted(rules - NEVER_A_CARD_TOPIC - quiet - never)
    assert not unguarded, f"no out-case guards {unguarded}"


# ------------------------------------------------------------------------ (a) the request and its expectation


@pytest.mark.parametrize("path", CASES)
def test_request_is_a_valid_cds_hooks_request(path: Path) -> None:
    request, _ = _load(path)
    CDSRequest.model_validate(request)
    assert request["hook"] in ("order-select", "order-sign")
    keys = set(request["prefetch"])
    assert {"patient", "medicationStatements", "medicationRequests", "conditions", "allergies"} <= keys
    assert keys <= {key.key for key in PREFETCH_KEYS}
    patient = request["prefetch"]["patient"]
    assert patient["resourceType"] == "Patient" and patient.get("birthDate") and patient.get("gender")
    for key in keys - {"patient"}:
        assert request["prefetch"][key]["type"] == "searchset", key
    drafts = request["context"]["draftOrders"]["entry"]
    assert drafts and all(e["resource"]["status"] == "draft" for e in drafts)
    if request["hook"] == "order-select":
        sel = request["context"]["selections"][0]
        assert sel in {f"MedicationRequest/{e['resource']['id']}" for e in drafts}, sel


@pytest.mark.parametrize("path", CASES)
def test_expectation_is_well_formed(path: Path) -> None:
    _, expected = _load(path)
    unknown = set(expected) - EXPECTATION_KEYS
    assert not unknown, f"unknown expectation members {unknown}"
    assert expected["rule"] == path.parent.name
    assert expected["description"] and expected["source"]
    assert 0 <= expected["cards"]["min"] <= expected["cards"]["max"]
    case = path.name.removesuffix(".request.json")
    assert case.startswith(("in-", "out-")), case
    if case.startswith("in-"):
        assert expected["cards"]["min"] >= 1, "an in- case must fire"
        assert expected.get("fires"), "an in- case names the rule it fires"
    else:
        assert expected.get("never_fires") or expected["cards"]["max"] == 0, "an out- case names what must not fire"


# ------------------------------------------------------------------------------- (b) the FHIR content is R4


def _resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    found = [e["resource"] for e in request["context"]["draftOrders"].get("entry", [])]
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            found += [e["resource"] for e in value.get("entry", []) if "resource" in e]
        elif isinstance(value, dict):
            found.append(value)
    return found


def _fhir_errors(request: dict[str, Any]) -> list[str]:
    from fhir.resources.R4B import get_fhir_model_class

    errors = []
    for res in _resources(request):
        try:
            get_fhir_model_class(res["resourceType"]).model_validate(res)
        except Exception as exc:  # noqa: BLE001 - report every invalid resource
            errors.append(f"{res.get('resourceType')}/{res.get('id')}: {str(exc).splitlines()[0]}")
    return errors


@pytest.mark.parametrize("path", CASES)
def test_fhir_content_is_valid_r4(path: Path) -> None:
    request, expected = _load(path)
    errors = _fhir_errors(request)
    if expected.get("malformed"):
        assert errors, "case is marked malformed but every resource is valid R4"
        drafts_and_patient = [request["prefetch"]["patient"]] + [
            e["resource"] for e in request["context"]["draftOrders"]["entry"]]
        assert not _fhir_errors({"context": {"draftOrders": {"entry": [{"resource": r} for r in drafts_and_patient]}}})
    else:
        assert not errors, "invalid FHIR R4:\n" + "\n".join(errors)


# ---------------------------------------------------------------------------- (c) the service's answer


def evaluated(request: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """The cards the service's pipeline answers ``request`` with on ``today`` (no FHIR server is read)."""
    outcome = asyncio.run(run(CDSRequest.model_validate(request), None, today))
    assert isinstance(outcome, Evaluated) or not outcome.response.cards, outcome  # type: ignore[union-attr]
    return json.loads(outcome.response.model_dump_json(exclude_none=True))["cards"]  # type: ignore[union-attr]


def _drug(text: str | None) -> str:
    words = (text or "").split()
    return words[0].lower().rstrip(".,;:") if words else ""


def _is(drug: str, names: list[str]) -> bool:
    """``adalimumab`` matches ``adalimumab`` and its biosimilars ``adalimumab-atto`` etc."""
    return any(drug == n.lower() or drug.startswith(n.lower() + "-") for n in names)


def _created(card: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(suggestion, drug) for every MedicationRequest a card's suggestions create."""
    out = []
    for sug in card.get("suggestions") or []:
        for action in sug.get("actions") or []:
            res = action.get("resource") or {}
            if action.get("type") == "create" and res.get("resourceType") == "MedicationRequest":
                out.append((sug, _drug((res.get("medicationCodeableConcept") or {}).get("text"))))
    return out


def _topic(card: dict[str, Any]) -> str:
    return ((card.get("source") or {}).get("topic") or {}).get("code", "")


def _describe(cards: list[dict[str, Any]]) -> str:
    if not cards:
        return "  (no cards)"
    lines = []
    for c in cards:
        lines.append(f"  [{c.get('indicator')}] {c.get('summary')}  (rule {_topic(c)})")
        for sug, drug in _created(c):
            lines.append(f"      {'*' if sug.get('isRecommended') else '-'} creates {drug}: {sug.get('label')}")
        for sug in c.get("suggestions") or []:
            for a in sug.get("actions") or []:
                if a.get("type") == "delete":
                    lines.append(f"      - deletes {a.get('resourceId')}: {sug.get('label')}")
    return "\n".join(lines)


def check_expectations(request: dict[str, Any], expected: dict[str, Any], cards: list[dict[str, Any]]) -> list[str]:
    """Return one message per failed expectation (empty list = all met)."""
    failed: list[str] = []
    lo, hi = expected["cards"]["min"], expected["cards"]["max"]
    if not lo <= len(cards) <= hi:
        failed.append(f"cards: expected {lo}..{hi}, got {len(cards)}")

    topics = {_topic(c) for c in cards}
    for rule in expected.get("fires", []):
        if rule not in topics:
            failed.append(f"fires: no card carries rule {rule!r} in source.topic (topics: {sorted(topics)})")
    for rule in expected.get("never_fires", []):
        if rule in topics:
            failed.append(f"never_fires: a card carries rule {rule!r}")

    if "indicator" in expected and cards:
        allowed = expected["indicator"] if isinstance(expected["indicator"], list) else [expected["indicator"]]
        worst = max((c.get("indicator", "info") for c in cards), key=lambda i: SEVERITY.get(i, -1))
        if worst not in allowed:
            failed.append(f"indicator: most severe is {worst!r}, expected one of {allowed}")

    created = [(sug, drug) for c in cards for sug, drug in _created(c)]
    drugs = sorted({d for _, d in created})
    if "recommended_any_of" in expected:
        rec = sorted({d for s, d in created if s.get("isRecommended")})
        if not any(_is(d, expected["recommended_any_of"]) for d in rec):
            failed.append(f"recommended_any_of {expected['recommended_any_of']}: recommended suggestions create {rec}")
    if "suggests_any_of" in expected and not any(_is(d, expected["suggests_any_of"]) for d in drugs):
        failed.append(f"suggests_any_of {expected['suggests_any_of']}: suggestions create {drugs}")
    for group in expected.get("suggests_from_each", []):
        if not any(_is(d, group) for d in drugs):
            failed.append(f"suggests_from_each: nothing from {group}; suggestions create {drugs}")
    bad = [d for d in drugs if _is(d, expected.get("never_suggests", []))]
    if bad:
        failed.append(f"never_suggests {expected['never_suggests']}: suggestions create {bad}")

    if expected.get("deletes_selection"):
        ctx = request["context"]
        target = (ctx.get("selections") or [f"MedicationRequest/{ctx['draftOrders']['entry'][0]['resource']['id']}"])[0]
        deletes = [a.get("resourceId") for c in cards for s in c.get("suggestions") or []
                   for a in s.get("actions") or [] if a.get("type") == "delete"]
        if target not in deletes:
            failed.append(f"deletes_selection: no suggestion deletes {target} (deletes: {deletes})")

    texts = [f"{c.get('summary', '')}\n{c.get('detail') or ''}".lower() for c in cards]
    for item in expected.get("text_mentions", []):
        options = item if isinstance(item, list) else [item]
        if not any(o.lower() in t for t in texts for o in options):
            failed.append(f"text_mentions: none of {options} in any card's summary/detail")
    for phrase in expected.get("text_never_mentions", []):
        if any(phrase.lower() in t for t in texts):
            failed.append(f"text_never_mentions: {phrase!r} appears in a card")
    return failed


@pytest.mark.parametrize("path", CASES)
def test_the_service_answers_as_expected(path: Path) -> None:
    from fhir.resources.R4B.medicationrequest import MedicationRequest

    request, expected = _load(path)
    cards = evaluated(request, FIXTURE_DAY)
    problems = []
    for card in cards:
        for sug in card.get("suggestions") or []:
            for action in sug.get("actions") or []:
                res = action.get("resource")
                if action.get("type") == "create" and res and res.get("resourceType") == "MedicationRequest":
                    try:
                        MedicationRequest.model_validate(res)
                    except Exception as exc:  # noqa: BLE001
                        problems.append(f"suggestion {sug.get('label')!r} creates an invalid MedicationRequest: {exc}")
    problems += check_expectations(request, expected, cards)
    assert not problems, (
        f"{expected['description']}\n  source: {expected['source']}\nFailed:\n  - " + "\n  - ".join(problems)
        + "\nCards returned:\n" + _describe(cards)
    )


# ---------------------------------------------------------------------------- (d) over HTTP


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory):
    with client(tmp_path_factory.mktemp("fixtures")) as test_client:
        yield test_client


@pytest.mark.parametrize("path", CASES)
def test_the_endpoint_returns_what_the_pipeline_decides(path: Path, http) -> None:
    request, _ = _load(path)
    response = http.post(HOOK_URL, json=request)
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    CDSResponse.model_validate(response.json())
    served, decided = response.json()["cards"], evaluated(request, date.today())
    # the same cards; only the uncertainty section may differ (the endpoint notes which FHIR server it may not read)
    assert [_without_notes(c) for c in served] == [_without_notes(c) for c in decided]


def _without_notes(card: dict[str, Any]) -> dict[str, Any]:
    detail = card.get("detail") or ""
    return {**card, "detail": detail.split("**Uncertain in the record**")[0]}
