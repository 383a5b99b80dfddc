"""Offline evaluation: ``python -m service evaluate FILE [--order ORDER.json] [--json]`` run as a real subprocess.

The JSON it prints must be the JSON the hook endpoint returns for the same patient and order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cds import HOOK_URL, hook_url

from service.cds import CDSResponse

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fhir_fixtures"
SEED = FIXTURES / "seed" / "in-seed-as-is-upadacitinib-after-upadacitinib-failure-warns-suggests-bdmard.request.json"
TODAY = date.today().isoformat()  # the service evaluates with today's date; so does the CLI by default
DATA_KEYS = ("medicationStatements", "medicationRequests", "conditions", "allergies")


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service", "evaluate", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def seed() -> dict:
    return json.loads(SEED.read_text())


def offline(request: dict) -> dict:
    """``request`` as the offline CLI evaluates it: no FHIR server is read (the fixtures name a placeholder)."""
    return {k: v for k, v in request.items() if k not in ("fhirServer", "fhirAuthorization")}


def patient_resources(request: dict) -> list[dict]:
    out = [request["prefetch"]["patient"]]
    for key in DATA_KEYS:
        out += [e["resource"] for e in (request["prefetch"].get(key) or {}).get("entry", [])]
    return out


def bundle(resources: list[dict], kind: str = "collection") -> dict:
    entries = []
    for r in resources:
        entry: dict = {"resource": r}
        if kind == "transaction":
            entry["request"] = {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        if kind == "searchset":
            entry["search"] = {"mode": "match"}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def draft(request: dict) -> dict:
    return request["context"]["draftOrders"]["entry"][0]["resource"]


def write(tmp_path: Path, name: str, document) -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_request_file_json_equals_the_endpoint_response(api):
    result = run(SEED, "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    CDSResponse.model_validate(printed)
    served = api.post(HOOK_URL, json=offline(seed()))
    assert served.status_code == 200
    assert printed == served.json()
    assert any(card["indicator"] == "warning" for card in printed["cards"])


@pytest.mark.parametrize("kind", ["collection", "searchset", "transaction"])
def test_patient_bundle_with_draft_gives_the_same_cards(api, tmp_path, kind):
    request = seed()
    path = write(tmp_path, f"{kind}.json", bundle(patient_resources(request) + [draft(request)], kind))
    result = run(path, "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    served = api.post(HOOK_URL, json=offline(request)).json()

    def essence(body: dict) -> list:
        return [(c["indicator"], c["summary"], [(s["label"], s.get("isRecommended", False)) for s in c.get("suggestions", [])])
                for c in body["cards"]]

    assert essence(printed) == essence(served)


def test_readable_output_shows_history_and_marked_recommendation(tmp_path):
    result = run(SEED)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Therapy history" in out and "Cards (" in out
    history = out.split("Therapy history", 1)[1].split("Cards (", 1)[0]
    for column in ("Drug", "Class", "Start", "End", "Stop reason", "Evidence"):
        assert column in history
    assert "etanercept" in history and "2024-01-10" in history and "2024-03-01" in history
    assert "upadacitinib" in history and "primary non-response" in history
    assert "injection" in history.lower()  # the evidence the stop reason was read from
    cards = out.split("Cards (", 1)[1]
    assert "WARNING" in cards
    recommended = [line for line in cards.splitlines() if "(recommended)" in line]
    assert len(recommended) == 1 and recommended[0].lstrip().startswith("*")
    assert "-> orders" in recommended[0]
    assert result.stderr == ""


def test_order_option_replaces_the_draft(api, tmp_path):
    """--order with a Bundle that has no draft: the given order is evaluated (secukinumab: no warning)."""
    request = seed()
    path = write(tmp_path, "patient.json", bundle(patient_resources(request)))
    secukinumab = {
        "resourceType": "MedicationRequest", "id": "new-order", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "1599788", "display": "secukinumab"}],
                                      "text": "Cosentyx 150 mg/mL pen"},
        "subject": {"reference": "Patient/seed-patient"},
    }
    order = write(tmp_path, "order.json", secukinumab)
    result = run(path, "--order", order, "--json")
    assert result.returncode == 0, result.stderr
    cards = json.loads(result.stdout)["cards"]
    assert all(card["indicator"] == "info" for card in cards)
    # the same order on a request file replaces the request's own draft (upadacitinib, which warns)
    result = run(SEED, "--order", order, "--json")
    assert result.returncode == 0, result.stderr
    assert all(card["indicator"] == "info" for card in json.loads(result.stdout)["cards"])
    readable = run(SEED, "--order", order)
    assert "order: Cosentyx 150 mg/mL pen" in readable.stdout


def test_every_fixture_request_evaluates_offline_like_the_endpoint(api):
    """In-process over every fixture: the offline path and the HTTP path agree card for card."""
    from service.dev.offline import evaluate_request
    from service.dev.render import render_json, render_text

    paths = sorted(FIXTURES.glob("*/*.request.json"))
    assert len(paths) >= 20
    for path in paths:
        request = json.loads(path.read_text())
        parsed, result = evaluate_request(request)
        served = api.post(hook_url(request["hook"]), json=offline(request))
        assert served.status_code == 200, f"{path.name}: {served.text[:300]}"
        assert json.loads(render_json(result)) == served.json(), path.name
        assert "Therapy history" in render_text(parsed, result)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.json", None, "does not exist"),
        ("notjson.json", "{this is not json", "not valid JSON"),
        ("list.json", "[1, 2, 3]", "expected a FHIR Bundle"),
        ("patient.json", json.dumps({"resourceType": "Patient", "id": "x"}), "got Patient"),
        ("document.json", json.dumps({"resourceType": "Bundle", "type": "document", "entry": []}), "Bundle.type"),
        ("nodraft.json", "NODRAFT", "no draft MedicationRequest"),
        ("badrequest.json", json.dumps({"hook": "order-select", "context": {"patientId": "x"}}),
         "not a valid CDS Hooks request"),
        ("noprefetch.json", "NOPREFETCH", "required data not in the request's prefetch"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_2(tmp_path, name, content, message):
    if content == "NODRAFT":
        content = json.dumps(bundle(patient_resources(seed())))
    elif content == "NOPREFETCH":
        request = seed()
        request.pop("prefetch")
        content = json.dumps(request)
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = run(path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m service evaluate: error:") and message in lines[0]


def test_bad_arguments_exit_2_on_one_line(tmp_path):
    result = run()
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    result = run(SEED, "--order", tmp_path / "nope.json")
    assert result.returncode == 2 and "order file" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- Bundles holding several patients


def _other_patient() -> list[dict]:
    """A second patient with no axSpA on record and an unrelated drug, referenced by urn:uuid (Synthea style)."""
    return [
        {"resourceType": "Patient", "id": "other-patient", "birthDate": "1950-01-01"},
        {"resourceType": "Condition", "id": "other-ra",
         "subject": {"reference": "urn:uuid:9d3c1e8a-0000-4000-8000-0000000000a1"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "69896004", "display": "Rheumatoid arthritis"}]}},
    ]


def _two_patient_bundle(request: dict) -> dict:
    entries = [{"resource": r} for r in patient_resources(request) + [draft(request)]]
    other = _other_patient()
    entries.append({"fullUrl": "urn:uuid:9d3c1e8a-0000-4000-8000-0000000000a1", "resource": other[0]})
    entries.append({"fullUrl": "urn:uuid:9d3c1e8a-0000-4000-8000-0000000000a2", "resource": other[1]})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_bundle_of_two_patients_is_refused_without_patient(tmp_path):
    path = write(tmp_path, "two.json", _two_patient_bundle(seed()))
    result = run(path)
    assert result.returncode == 2 and result.stdout == ""
    assert "belong to 2 patients" in result.stderr and "--patient" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_patient_picks_one_patient_and_uses_only_their_resources(api, tmp_path):
    from service.dev.bundles import request_from_bundle

    request = seed()
    two = _two_patient_bundle(request)
    built = request_from_bundle(two, patient="seed-patient")
    assert built["context"]["patientId"] == "seed-patient"
    assert [e["resource"]["id"] for e in built["prefetch"]["conditions"]["entry"]] == [
        e["resource"]["id"] for e in request["prefetch"]["conditions"]["entry"]], "the other patient's RA is left out"
    path = write(tmp_path, "two.json", two)
    alone = write(tmp_path, "one.json", bundle(patient_resources(request) + [draft(request)]))
    picked, single = run(path, "--patient", "seed-patient", "--json"), run(alone, "--json")
    assert picked.returncode == 0, picked.stderr
    assert json.loads(picked.stdout) == json.loads(single.stdout)
    # the other patient, named by its urn:uuid fullUrl, has no draft of their own: nothing to evaluate
    other = run(path, "--patient", "urn:uuid:9d3c1e8a-0000-4000-8000-0000000000a1")
    assert other.returncode == 2 and "no draft MedicationRequest" in other.stderr
    with_order = request_from_bundle(two, draft(request), patient="other-patient")
    assert with_order["context"]["patientId"] == "other-patient"
    assert [e["resource"]["id"] for e in with_order["prefetch"]["conditions"]["entry"]] == ["other-ra"]
    assert with_order["prefetch"]["medicationStatements"]["entry"] == []


def test_patient_that_is_not_in_the_bundle_or_given_with_a_request_is_refused(tmp_path):
    path = write(tmp_path, "two.json", _two_patient_bundle(seed()))
    result = run(path, "--patient", "nobody")
    assert result.returncode == 2 and "no patient 'nobody'" in result.stderr
    result = run(SEED, "--patient", "seed-patient")
    assert result.returncode == 2 and "context.patientId" in result.stderr


def test_bundle_medications_travel_with_their_full_urls():
    from service.dev.bundles import request_from_bundle

    request = seed()
    entries = [{"resource": r} for r in patient_resources(request) + [draft(request)]]
    entries.append({"fullUrl": "urn:uuid:1b2c3d4e-0000-4000-8000-00000000e001",
                    "resource": {"resourceType": "Medication", "code": {"text": "Humira"}}})
    built = request_from_bundle({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    included = [e for e in built["prefetch"]["medicationRequests"]["entry"] if e["search"]["mode"] == "include"]
    assert included == [{"fullUrl": "urn:uuid:1b2c3d4e-0000-4000-8000-00000000e001", "search": {"mode": "include"},
                         "resource": {"resourceType": "Medication", "code": {"text": "Humira"}}}]


# --------------------------------------------------------------------------- Synthea patient Bundles


@pytest.mark.parametrize(("v3", "case", "order_drug"), [
    (True, "in-synthea-3x-biologics-by-reference-keep-their-history", "upadacitinib"),
    (False, "in-synthea-2019-refills-and-encounters-methotrexate-warns", "methotrexate"),
], ids=["synthea-3x", "synthea-2019"])
def test_a_synthea_transaction_bundle_evaluates_like_its_fixture_and_keeps_its_history(api, tmp_path, v3, case,
                                                                                      order_drug):
    """The patient Bundle Synthea writes (urn:uuid fullUrls and references, Encounters, refills; 3.x: separate
    Medication resources) evaluated offline gives the fixture's cards, and the printed history holds every drug."""
    from fhir_fixtures import real_shapes

    fixture = json.loads((FIXTURES / "real-shapes" / f"{case}.request.json").read_text())
    patient_id = fixture["context"]["patientId"]
    bundle_path = write(tmp_path, "synthea.json", real_shapes.synthea_bundle(patient_id, v3=v3))
    order_path = write(tmp_path, "order.json", draft(fixture))
    printed = run(bundle_path, "--order", order_path, "--today", "2026-11-24", "--json")
    assert printed.returncode == 0, printed.stderr
    from service.dev.offline import evaluate_request

    _, expected = evaluate_request(fixture, date(2026, 11, 24))

    def essence(cards: list) -> list:
        return [(c["indicator"], c["summary"], c["source"]["topic"]["code"],
                 [s["label"] for s in c.get("suggestions", [])]) for c in cards]

    assert essence(json.loads(printed.stdout)["cards"]) == essence(
        json.loads(expected.response.model_dump_json(exclude_none=True))["cards"])
    readable = run(bundle_path, "--order", order_path, "--today", "2026-11-24")
    history = readable.stdout.split("Therapy history", 1)[1].split("Cards (", 1)[0].lower()
    for drug in ("naproxen", "etanercept", "adalimumab"):
        assert drug in history, drug
    assert order_drug in readable.stdout.lower()
