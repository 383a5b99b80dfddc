"""Logs never carry the EHR's access token, the client's JWT or the patient's identifier, at any level,
in the message or in the extra fields, including what httpx/httpcore log about outbound requests."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from cds import HOOK_URL, seed_request, without_prefetch
from fastapi.testclient import TestClient
from support.faulty_fhir import make_resource
from support.jwt_keys import TestKey, client_entry, trusted_clients_file

from service.app import create_app
from service.config import Settings
from service.ops import QUIET_LOGGERS, JsonFormatter, pseudonym

PUBLIC = "https://cds.example.org"
ISS = "https://ehr.example.org"
ACCESS_TOKEN = "at-3c9d1e7b-SECRET-access-token"
PATIENT = "pt-8e41f0a2c7"
KEY = TestKey.ec384("hygiene-kid")
JWT_SHAPE = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")


def rendered(records: list[logging.LogRecord]) -> str:
    """Every record as the service writes it (JSON line with extras), plus its raw attribute dict."""
    formatter = JsonFormatter()
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(repr({k: v for k, v in record.__dict__.items() if k not in ("exc_info", "args")}))
        lines.append(repr(record.args))
    return "\n".join(lines)


def patient_request(fhir_base: str) -> dict:
    request = json.loads(json.dumps(without_prefetch(seed_request())).replace("seed-patient", PATIENT))
    request["fhirServer"] = fhir_base
    request["fhirAuthorization"] = {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "axspa-cds"}
    return request


@pytest.fixture()
def reset_quiet_loggers():
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_detector_control_httpx_would_log_the_patient_id_if_left_alone(caplog, reset_quiet_loggers):
    """Proves the hygiene test can see a leak: an unquieted httpx logs the request URL (patient=<id>)."""
    caplog.set_level(logging.DEBUG)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport) as http:
        http.get(f"https://ehr.example.org/fhir/Condition?patient={PATIENT}",
                 headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert PATIENT in rendered(caplog.records)


def test_full_requests_leave_no_token_jwt_or_patient_id_in_any_log(tmp_path, faulty_fhir, caplog,
                                                                 reset_quiet_loggers):
    caplog.set_level(logging.DEBUG)
    data = {t: [make_resource(t, f"{t.lower()}-1", PATIENT)]
            for t in ("MedicationStatement", "Condition", "AllergyIntolerance")}
    fhir = faulty_fhir("ok", data=data, per_type={"AllergyIntolerance": "500"})
    settings = Settings(
        allow_unauthenticated=False,
        trusted_clients=trusted_clients_file(tmp_path, [client_entry(ISS, keys=[KEY])]),
        public_base_url=PUBLIC,
        database_url=f"sqlite:///{tmp_path / 'state.sqlite3'}",
        fhir_allowlist=[fhir.base_url],
        log_level="DEBUG",
    )
    tokens: list[str] = []
    with TestClient(create_app(settings), raise_server_exceptions=False) as api:
        def jwt_for(path: str, **kwargs) -> str:
            token = KEY.mint(iss=ISS, aud=f"{PUBLIC}{path}", **kwargs)
            tokens.append(token)
            return token

        ok = api.post(HOOK_URL, json=patient_request(fhir.base_url),
                      headers={"Authorization": f"Bearer {jwt_for(HOOK_URL)}"})
        assert ok.status_code in (200, 412), ok.text
        assert fhir.requests, "the FHIR server must have been read (with the token)"
        assert all(r.authorization == f"Bearer {ACCESS_TOKEN}" for r in fhir.requests)
        refused = api.post(HOOK_URL, json=patient_request(fhir.base_url),
                           headers={"Authorization": f"Bearer {jwt_for('/cds-services')}"})
        assert refused.status_code == 401
        replayed = api.post(HOOK_URL, json=patient_request(fhir.base_url),
                            headers={"Authorization": f"Bearer {tokens[0]}"})
        assert replayed.status_code == 401
        expired = api.get("/cds-services", headers={"Authorization": f"Bearer {jwt_for('/cds-services', lifetime=-600)}"})
        assert expired.status_code == 401
        assert api.get("/cds-services", headers={"Authorization": f"Bearer {jwt_for('/cds-services')}"}).status_code == 200
        garbage = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz"
        tokens.append(garbage)
        assert api.get("/cds-services", headers={"Authorization": f"Bearer {garbage}"}).status_code == 401

    text = rendered(caplog.records)
    checks = [getattr(r, "check", None) for r in caplog.records if r.name == "axspa.app"]
    assert checks == ["wrong-audience", "replay", "expired", "missing-kid"], checks
    assert caplog.records, "nothing was logged at all?"
    assert "wrong-audience" in text and "expired" in text and "replay" in text  # the checks are logged
    assert ACCESS_TOKEN not in text
    for token in tokens:
        assert token not in text
        for part in token.split("."):
            assert part not in text  # not even the header or the signature
    assert not JWT_SHAPE.search(text)
    assert PATIENT not in text
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_pseudonym_is_stable_and_does_not_contain_the_identifier():
    assert pseudonym(PATIENT) == pseudonym(PATIENT) != pseudonym(PATIENT + "x")
    assert PATIENT not in pseudonym(PATIENT) and len(pseudonym(PATIENT)) == 12
