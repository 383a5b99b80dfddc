"""The CDS Hooks 2.0 surface: discovery, invocation errors, responses, feedback, CORS, limits, start-up."""

from __future__ import annotations

import copy
import re

import pytest
from cds import FEEDBACK_URL, HOOK_URL, assert_cds_clean, client, seed_request, without_prefetch

from service.config import SERVICE_ID

# --------------------------------------------------------------------------- discovery


def test_discovery_lists_one_id_for_order_select_and_order_sign(api):
    response = api.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    assert {s["id"] for s in services} == {SERVICE_ID}
    for service in services:
        assert service["title"] and service["description"] and service["usageRequirements"]
        assert set(service["prefetch"]) == {
            "patient", "medicationStatements", "medicationRequests", "conditions", "allergies", "observations"
        }
        assert service["prefetch"]["observations"].startswith("Observation?patient={{context.patientId}}&code=")


def test_discovery_prefetch_uses_only_cds_hooks_2_0_tokens(api):
    for service in api.get("/cds-services").json()["services"]:
        for template in service["prefetch"].values():
            tokens = re.findall(r"\{\{(.*?)\}\}", template)
            assert tokens, template
            assert set(tokens) <= {"context.patientId", "context.userId", "context.encounterId"}


def test_discovery_answers_with_trailing_slash_without_redirect(api):
    response = api.get("/cds-services/", follow_redirects=False)
    assert response.status_code == 200 and response.json()["services"]


# --------------------------------------------------------------------------- invocation errors


def _issues(response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return " | ".join(issue["diagnostics"] for issue in body["issue"])


def test_malformed_json_is_400_with_operation_outcome(api):
    response = api.post(HOOK_URL, content=b'{"hook": "order-select",', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in _issues(response)


@pytest.mark.parametrize("body", [b"", b"[]", b'"text"', b"42"])
def test_non_object_body_is_400(api, body):
    response = api.post(HOOK_URL, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _issues(response)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda r: r.pop("context"), "context"),
        (lambda r: r.pop("hookInstance"), "hookInstance"),
        (lambda r: r["context"].pop("patientId"), "context.patientId"),
        (lambda r: r["context"].pop("selections"), "selections"),
        (lambda r: r["context"].update(draftOrders=[]), "context.draftOrders"),
        (lambda r: r["context"].update(draftOrders={"resourceType": "Patient"}), "draftOrders"),
        (lambda r: r["context"].update(selections=["not a reference"]), "selections"),
        (lambda r: r.update(fhirAuthorization={"access_token": "t", "token_type": "Bearer"}) or r.pop("fhirServer"),
         "fhirServer"),
    ],
    ids=["no-context", "no-hookInstance", "no-patientId", "no-selections", "draftOrders-list",
         "draftOrders-not-bundle", "bad-selection", "auth-without-server"],
)
def test_missing_or_invalid_field_is_400_naming_it(api, mutate, named):
    request = seed_request()
    mutate(request)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 400, response.text
    assert named in _issues(response)


def test_unknown_service_id_is_404(api):
    response = api.post("/cds-services/no-such-service", json=seed_request())
    assert response.status_code == 404
    assert "no-such-service" in _issues(response)


def test_hook_not_served_is_400(api):
    request = seed_request()
    request["hook"] = "patient-view"
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 400
    assert "patient-view" in _issues(response)


def test_unknown_members_and_extensions_are_tolerated(api):
    request = seed_request()
    request["extension"] = {"com.example.tenant": {"id": "t1"}}
    request["context"]["com.example.flag"] = True
    request["context"]["encounterId"] = "enc-1"
    request["vendorField"] = [1, 2, 3]
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    assert_cds_clean(response.json())


def test_validation_errors_are_never_422(api):
    response = api.post(HOOK_URL, json={"hook": 1, "context": "x"})
    assert response.status_code == 400


# --------------------------------------------------------------------------- responses


def test_seed_request_returns_clean_cards(api):
    response = api.post(HOOK_URL, json=seed_request())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cards"], "the seed patient re-ordering a failed JAK inhibitor must get a card"
    assert_cds_clean(body)


def test_same_request_gives_same_response(api):
    first = api.post(HOOK_URL, json=seed_request()).json()
    second = api.post(HOOK_URL, json=seed_request()).json()
    assert first == second


def test_order_sign_without_selections_is_served(api):
    request = seed_request()
    request["hook"] = "order-sign"
    request["context"].pop("selections")
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cards"], "order-sign of the same conflicting order must warn too"
    assert_cds_clean(body)


def test_unrelated_order_is_silent_without_reading_any_data(api):
    request = without_prefetch(seed_request())
    request.pop("fhirServer")
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "723", "display": "amoxicillin"}],
        "text": "amoxicillin 500 mg capsule",
    }
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_no_prefetch_and_no_fhir_server_is_412(api):
    request = without_prefetch(seed_request())
    request.pop("fhirServer")
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 412
    assert "conditions" in _issues(response)


def test_null_prefetch_means_known_empty_not_missing(api):
    request = seed_request()
    request.pop("fhirServer")
    for key in request["prefetch"]:
        request["prefetch"][key] = None
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json() == {"cards": []}, "no axSpA on record: the service stays silent"


def test_allergies_unavailable_still_answers_and_says_so(api):
    request = without_prefetch(seed_request(), "allergies")
    request.pop("fhirServer")
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    body = response.json()
    assert_cds_clean(body)
    assert any("allerg" in (card.get("detail") or "").lower() for card in body["cards"])


def test_one_malformed_prefetch_entry_keeps_the_others(api):
    request = seed_request()
    request.pop("fhirServer")
    request["prefetch"]["conditions"]["entry"].insert(0, {"resource": "garbage"})
    request["prefetch"]["conditions"]["entry"].insert(0, 17)
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 200
    assert response.json()["cards"], "the AS condition after the bad entries must still count"


def test_operation_outcome_prefetch_without_server_is_412(api):
    request = seed_request()
    request.pop("fhirServer")
    request["prefetch"]["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 412
    assert "conditions" in _issues(response)


# --------------------------------------------------------------------------- feedback


def _feedback(card="7a5b1f3e-8a3b-4a47-9df3-5a0c1d2b3e4f", **extra):
    item = {
        "card": card,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "9c4a0b61-2f9e-4c3e-8c1e-0f6f0a3b2d11"}],
        "outcomeTimestamp": "2026-11-24T10:15:00Z",
    }
    item.update(extra)
    return {"feedback": [item]}


def test_feedback_is_stored_once_even_when_repeated(api):
    first = api.post(FEEDBACK_URL, json=_feedback())
    assert first.status_code == 200 and first.json() == {"received": 1, "new": 1}
    again = api.post(FEEDBACK_URL, json=_feedback())
    assert again.status_code == 200 and again.json() == {"received": 1, "new": 0}
    stored = api.app.state.runtime.store.list_feedback(SERVICE_ID)
    assert len(stored) == 1 and stored[0]["outcome"] == "accepted"


def test_overridden_feedback_with_reason_is_accepted(api):
    body = _feedback(outcome="overridden", acceptedSuggestions=None)
    body["feedback"][0].pop("acceptedSuggestions")
    body["feedback"][0]["overrideReason"] = {
        "reason": {"system": "https://axspa-cds.org/override-reason", "code": "patient-preference"},
        "userComment": "prefers oral",
    }
    response = api.post(FEEDBACK_URL, json=body)
    assert response.status_code == 200 and response.json()["new"] == 1


def test_feedback_survives_a_restart(tmp_path):
    with client(tmp_path) as first:
        assert first.post(FEEDBACK_URL, json=_feedback()).status_code == 200
    with client(tmp_path) as second:
        assert len(second.app.state.runtime.store.list_feedback(SERVICE_ID)) == 1


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda f: f.pop("card"), "card"),
        (lambda f: f.update(outcome="ignored"), "outcome"),
        (lambda f: f.pop("acceptedSuggestions"), "acceptedSuggestions"),
        (lambda f: f.update(outcomeTimestamp="yesterday"), "outcomeTimestamp"),
        (lambda f: f.update(outcomeTimestamp="2026-11-24T10:15:00"), "outcomeTimestamp"),
        (lambda f: f.update(outcome="overridden", overrideReason={}), "overrideReason"),
    ],
    ids=["no-card", "bad-outcome", "accepted-without-suggestions", "bad-timestamp", "no-timezone",
         "empty-override-reason"],
)
def test_invalid_feedback_is_400_naming_the_field(api, mutate, named):
    body = _feedback()
    mutate(body["feedback"][0])
    response = api.post(FEEDBACK_URL, json=body)
    assert response.status_code == 400, response.text
    assert named in _issues(response)


def test_feedback_needs_a_non_empty_list(api):
    assert api.post(FEEDBACK_URL, json={"feedback": []}).status_code == 400
    assert api.post(FEEDBACK_URL, json={}).status_code == 400


def test_feedback_for_unknown_service_is_404(api):
    assert api.post("/cds-services/other/feedback", json=_feedback()).status_code == 404


# --------------------------------------------------------------------------- CORS, limits, start-up


@pytest.mark.parametrize("path", ["/cds-services", HOOK_URL, FEEDBACK_URL])
def test_cors_preflight_allows_authorization_and_content_type(api, path):
    response = api.options(
        path,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_cors_origins_are_configurable(tmp_path):
    with client(tmp_path, cors_origins=["https://ehr.example.org"]) as api:
        ok = api.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
        assert ok.headers.get("access-control-allow-origin") == "https://ehr.example.org"
        other = api.get("/cds-services", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers


def test_service_refuses_to_start_without_trusted_clients_or_dev_mode(tmp_path):
    from service.config import StartupRefused

    with pytest.raises(StartupRefused, match="CDS_TRUSTED_CLIENTS"):
        with client(tmp_path, allow_unauthenticated=False):
            pass


def test_request_is_not_mutated_between_calls(api):
    request = seed_request()
    snapshot = copy.deepcopy(request)
    api.post(HOOK_URL, json=request)
    assert request == snapshot


@pytest.mark.parametrize("patient_id", ["../../Patient", "p1?_include=*", "p1&patient=p2", "a b", "x" * 65])
def test_patient_id_that_is_not_a_fhir_id_is_400_and_never_reaches_a_url(api, patient_id):
    request = seed_request()
    request["context"]["patientId"] = patient_id
    response = api.post(HOOK_URL, json=request)
    assert response.status_code == 400
    assert "context.patientId" in _issues(response)


# --------------------------------------------------------------------------- concordant orders

CONCORDANT = "fhir_fixtures/infection-screening/out-recent-negative-igra-hbsag-anti-hbc-no-card.request.json"


def _concordant_request() -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parent.parent / CONCORDANT).read_text())


def test_a_concordant_order_gets_no_card_by_default(api):
    response = api.post(HOOK_URL, json=_concordant_request())
    assert response.status_code == 200 and response.json() == {"cards": []}


@pytest.mark.api(concordant_info_card=True)
def test_the_concordant_info_card_setting_restores_an_informational_card(api):
    response = api.post(HOOK_URL, json=_concordant_request())
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert [c["indicator"] for c in cards] == ["info"]
    assert "suggestions" not in cards[0]
