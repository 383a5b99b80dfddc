"""``python -m service replay``: over fhir_fixtures/ it gives, for every file, what the endpoint answers (cards by rule
and indicator), through the CLI's process pool too; an NDJSON bulk export of the same patients gives the same; bad
inputs are counted and named, never a crash; patients appear only by pseudonym; ``--order`` simulates an order for
every patient; the Dask bag gives what the local pool gives; the chart is valid SVG."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cds import client, hook_url
from support import in_ci
from support.bulk import request_resources, write_export

from service.governance import replay, replay_cli
from service.governance.export import read_export, referenced_medications
from service.ops import pseudonym

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fhir_fixtures"
REQUESTS = sorted(FIXTURES.rglob("*.request.json"))


def _rules(cards: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(((c["source"].get("topic") or {}).get("code", "unknown"), c["indicator"]) for c in cards)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> dict[str, Counter[tuple[str, str]]]:
    """What the endpoint answers for every fixture file, as (rule, indicator) counts."""
    answers = {}
    with client(tmp_path_factory.mktemp("endpoint")) as api:
        for path in REQUESTS:
            response = api.post(hook_url(json.loads(path.read_text())["hook"]), json=json.loads(path.read_text()))
            assert response.status_code == 200, path
            answers[str(path.relative_to(FIXTURES))] = _rules(response.json()["cards"])
    return answers


def _replay_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = replay_cli.main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_gives_the_endpoints_answer_for_every_fixture_file(endpoint):
    results: dict[str, Counter[tuple[str, str]]] = {}

    def keep(result: replay.PatientResult) -> None:
        assert result.error is None, (result.source, result.error)
        results[result.source] = Counter(result.cards)

    tally = replay.run(replay.find_inputs(FIXTURES, "*.request.json"), replay.Options(), workers=1, each=keep)
    assert results == endpoint
    assert tally.patients == len(REQUESTS) and tally.error_count == 0


def test_the_cli_pool_counts_what_the_endpoint_answered(endpoint, capsys):
    code, out, err = _replay_cli(capsys, str(FIXTURES), "--pattern", "*.request.json", "--workers", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    by_rule: Counter[str] = Counter()
    by_indicator: Counter[str] = Counter()
    for answer in endpoint.values():
        for (rule, indicator), n in answer.items():
            by_rule[rule] += n
            by_indicator[indicator] += n
    assert result["patients"] == len(REQUESTS)
    assert result["patients_with_cards"] == sum(1 for answer in endpoint.values() if answer)
    assert result["cards_by_rule"] == dict(by_rule) and result["cards_by_indicator"] == dict(by_indicator)
    assert result["errors"] == [] and len(result["slowest"]) == 5
    assert err == ""  # not a terminal: no progress bar


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The order-select fixture requests as an NDJSON bulk export (one patient each), Medications included: the records
    whose drugs are named by reference to separate Medication resources (real-shapes/ US Core, Synthea 3.x) hold them
    in Medication.ndjson, which names no patient."""
    requests = {str(p.relative_to(FIXTURES)): json.loads(p.read_text()) for p in REQUESTS}
    requests = {name: r for name, r in requests.items() if r["hook"] == "order-select"}
    folder = tmp_path_factory.mktemp("export")
    return folder, write_export(requests, folder)


def _medications(request: dict[str, Any]) -> bool:
    return any(e["resource"].get("resourceType") == "Medication" for value in request["prefetch"].values()
               if isinstance(value, dict) and value.get("resourceType") == "Bundle" for e in value.get("entry") or [])


def test_an_ndjson_export_replays_each_patient_as_its_bundle(export):
    folder, patients = export
    by_patient: dict[str, Counter[tuple[str, str]]] = {}

    def keep(result: replay.PatientResult) -> None:
        if result.error is None:
            assert result.patient is not None
            by_patient[result.patient] = Counter(result.cards)

    tally = replay.run(replay.find_inputs(folder), replay.Options(), workers=1, each=keep)
    assert tally.patients == len(patients)
    for name, patient_id in patients.items():
        request = json.loads((FIXTURES / name).read_text())
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": r} for r in _resources(request, patient_id)]}
        alone = replay.replay_document(bundle, name, replay.Options(), patient_id)
        assert by_patient[pseudonym(patient_id)] == Counter(alone.cards), name
    # the one deliberately malformed MedicationStatement of messy/ names no patient: counted and named, not fatal
    assert [e["input"] for e in tally.errors] == ["MedicationStatement.ndjson"] and tally.error_count == 1


def _resources(request: dict[str, Any], patient_id: str) -> list[dict[str, Any]]:
    from support.bulk import patient_resources

    return patient_resources(request, patient_id)


def test_medications_of_an_export_join_the_patients_that_reference_them(export):
    folder, patients = export
    by_reference = [name for name in patients if _medications(json.loads((FIXTURES / name).read_text()))]
    assert by_reference, "the export holds records whose drugs are Medications by reference"
    export_read = read_export([(p, p.name) for p in sorted(folder.glob("*.ndjson"))])
    joined = dict(export_read.patient_resources())
    for name in by_reference:
        request, patient = json.loads((FIXTURES / name).read_text()), patients[name]
        sent = {f"{patient}-{r['id']}" for r in request_resources(request) if r["resourceType"] == "Medication"}
        held = {r["id"] for r in joined[patient] if r["resourceType"] == "Medication"}
        referenced = {key for r in joined[patient] for key in referenced_medications(r)}
        assert held == sent & referenced, name  # each Medication the record references, and no one else's


def test_unusable_inputs_are_counted_and_named_never_fatal(tmp_path, capsys):
    good = json.loads(REQUESTS[0].read_text())
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    no_draft = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": good["prefetch"]["patient"]}]}
    (tmp_path / "no-draft.json").write_text(json.dumps(no_draft))
    invalid = json.loads(json.dumps(good))
    invalid["context"].pop("patientId")
    (tmp_path / "invalid-request.json").write_text(json.dumps(invalid))
    (tmp_path / "Condition.ndjson").write_text('{"resourceType": "Condition"}\nnot json\n\n'
                                               '{"resourceType": "Encounter", "subject": {"reference": "Patient/x"}}\n')
    code, out, err = _replay_cli(capsys, str(tmp_path), "--workers", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["patients"] == 1
    named = {e["input"]: e["error"] for e in result["errors"]}
    assert set(named) == {"broken.json", "list.json", "no-draft.json", "invalid-request.json", "Condition.ndjson"}
    assert "not valid JSON" in named["broken.json"] and "no draft MedicationRequest" in named["no-draft.json"]
    assert "context.patientId" in named["invalid-request.json"]
    assert result["error_count"] == 6  # Condition.ndjson: a line that is not JSON, a resource naming no patient
    assert result["skipped_resources"] == {"Encounter": 1}
    assert good["context"]["patientId"] not in out


def test_patients_appear_only_by_pseudonym(capsys):
    code, out, _ = _replay_cli(capsys, str(FIXTURES / "seed"), "--pattern", "*.request.json", "--workers", "1")
    assert code == 0
    ids = {json.loads(p.read_text())["context"]["patientId"] for p in (FIXTURES / "seed").glob("*.request.json")}
    assert ids and not any(i in out for i in ids)
    assert any(pseudonym(i) in out for i in ids)  # the slowest patients are named by pseudonym


def _order(text: str, rxnorm: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
            "subject": {"reference": "Patient/whoever"},
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": rxnorm}], "text": text}}


def test_order_is_simulated_for_every_patient(export, tmp_path, capsys):
    folder, patients = export
    unrelated = tmp_path / "atorvastatin.json"
    unrelated.write_text(json.dumps(_order("atorvastatin 20 mg tablet", "617312")))
    code, out, _ = _replay_cli(capsys, str(folder), "--order", str(unrelated), "--workers", "1", "--json")
    result = json.loads(out)
    assert code == 0 and result["patients"] == len(patients) and result["patients_with_cards"] == 0  # silent
    jak = tmp_path / "upadacitinib.json"
    jak.write_text(json.dumps(_order("upadacitinib 15 mg extended-release tablet", "1944269")))
    code, out, _ = _replay_cli(capsys, str(folder), "--order", str(jak), "--workers", "1", "--json")
    assert code == 0 and json.loads(out)["patients_with_cards"] > len(patients) // 2


def test_replay_answers_as_the_service_is_configured(capsys, monkeypatch):
    args = (str(FIXTURES), "--pattern", "*.request.json", "--workers", "1", "--json")
    quiet = json.loads(_replay_cli(capsys, *args)[1])
    monkeypatch.setenv("CDS_CONCORDANT_INFO_CARD", "true")  # a concordant order gets an informational card
    chatty = json.loads(_replay_cli(capsys, *args)[1])
    assert chatty["patients"] == quiet["patients"]
    assert chatty["patients_with_cards"] > quiet["patients_with_cards"]
    assert chatty["cards_by_indicator"]["info"] > quiet["cards_by_indicator"]["info"]
    assert chatty["cards_by_indicator"].get("warning") == quiet["cards_by_indicator"].get("warning")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["/no/such/folder"], "does not exist"), ([str(FIXTURES / "seed"), "--pattern", "*.xml"], "nothing to replay"),
     ([str(FIXTURES / "seed"), "--order", str(REQUESTS[0])], "--order must be a FHIR MedicationRequest"),
     ([str(FIXTURES / "seed"), "--workers", "0"], "--workers")],
)
def test_replay_refuses_what_it_cannot_run_in_one_line(capsys, args, message):
    code, out, err = _replay_cli(capsys, *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_the_progress_bar_is_drawn_on_stderr_when_asked(capsys):
    code, out, err = _replay_cli(capsys, str(FIXTURES / "seed"), "--pattern", "*.request.json", "--workers", "1",
                                 "--progress", "--json")
    assert code == 0 and json.loads(out)["patients"] > 0
    assert err.startswith("\rreplay [") and err.endswith("\n")


def test_the_burden_chart_is_valid_svg(tmp_path, capsys):
    if not in_ci():
        pytest.importorskip("matplotlib")  # the `plot` extra; CI installs it
    chart = tmp_path / "burden.svg"
    code, out, _ = _replay_cli(capsys, str(FIXTURES), "--pattern", "*.request.json", "--workers", "1",
                               "--plot", str(chart), "--json")
    assert code == 0
    root = ET.parse(chart).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for rule in json.loads(out)["cards_by_rule"]:
        assert f">{rule}<" in chart.read_text()


def test_the_dask_bag_gives_what_the_local_pool_gives(export):
    if not in_ci():
        pytest.importorskip("dask.bag")  # the `cluster` extra; CI installs it, so there this never skips
    from service.governance.cluster import replay_inputs_on_dask

    folder, _ = export
    for extra in (FIXTURES / "seed").glob("*.request.json"):  # request files beside the export: both kinds
        (folder / extra.name).write_text(extra.read_text())
    inputs = replay.find_inputs(folder)
    local = replay.run(inputs, replay.Options(), workers=1).as_json()
    on_dask = replay_inputs_on_dask(inputs, replay.Options(), partitions=3, workers=2).as_json()
    for key in ("patients", "patients_with_cards", "cards_by_rule", "cards_by_indicator", "error_count"):
        assert on_dask[key] == local[key], key
    assert [e["input"] for e in on_dask["errors"]] == [e["input"] for e in local["errors"]]
    assert len(on_dask["slowest"]) == 5
