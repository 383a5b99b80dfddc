"""The service starts as documented: ``python -m service --host --port`` and
``uvicorn service.app:create_app --factory``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from support.net import free_port


def _serve(argv, tmp_path, **env):
    environment = {**os.environ, "CDS_ALLOW_UNAUTHENTICATED": "true",
                   "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}", **env}
    return subprocess.Popen(argv, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(url: str, process: subprocess.Popen, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"service exited early: {process.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("service did not start")


@pytest.mark.parametrize("launcher", ["python-m-service", "uvicorn"])
def test_service_starts_serves_discovery_and_warns_about_dev_mode(tmp_path, launcher):
    port = free_port()
    argv = (
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)]
        if launcher == "python-m-service"
        else [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port)]
    )
    process = _serve(argv, tmp_path)
    try:
        health = _wait(f"http://127.0.0.1:{port}/readyz", process)
        assert health.status_code == 200
        services = httpx.get(f"http://127.0.0.1:{port}/cds-services").json()["services"]
        assert {s["hook"] for s in services} == {"order-select", "order-sign"}
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode(errors="replace")
    assert "CDS_ALLOW_UNAUTHENTICATED" in output, "development mode must be announced at start-up"
    assert (tmp_path / "state.sqlite3").exists(), "the default store is a SQLite file"


@pytest.mark.parametrize("trust", ["none", "broken-file"])
def test_python_m_service_refuses_to_start_on_one_line_naming_the_problem(tmp_path, trust):
    """No trusted clients and no development mode, or a trusted-clients file with a problem: exit 2, one line."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    environment["CDS_DATABASE_URL"] = f"sqlite:///{tmp_path / 's.sqlite3'}"
    expected = ("CDS_TRUSTED_CLIENTS", "CDS_ALLOW_UNAUTHENTICATED")
    if trust == "broken-file":
        path = tmp_path / "clients.json"
        path.write_text(json.dumps({"clients": [{"iss": "https://x.example", "jku": ["http://evil.example/jwks"]}]}))
        environment["CDS_TRUSTED_CLIENTS"] = str(path)
        expected = ("CDS_TRUSTED_CLIENTS", "http://evil.example/jwks")
    result = subprocess.run(
        [sys.executable, "-m", "service", "--port", str(free_port())],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("axspa-cds: refusing to start:") and all(word in line for word in expected), line


def test_a_cds_variable_that_does_not_parse_refuses_start_up_on_one_line_naming_it(tmp_path):
    """A typo in the environment is an operator's error: exit 2 and one line naming each variable, never a
    traceback, and never the value (a database URL may hold a password)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    environment.update(CDS_ALLOW_UNAUTHENTICATED="true", CDS_ACCESS_LOG="maybe", CDS_KEEP_ALIVE_S="s3cret-abc",
                       CDS_DATABASE_URL=f"sqlite:///{tmp_path / 's.sqlite3'}")
    result = subprocess.run([sys.executable, "-m", "service", "--port", str(free_port())],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("axspa-cds: refusing to start:") and "CDS_ACCESS_LOG" in line and "CDS_KEEP_ALIVE_S" in line
    assert "s3cret" not in line and "maybe" not in line


def test_an_invalid_suggested_medication_request_refuses_start_up(monkeypatch, tmp_path):
    """Every drug's suggested MedicationRequest is validated with fhir.resources at start-up."""
    from cds import client

    from service import startup
    from service.config import StartupRefused

    startup.check_suggestion_templates()  # the real templates are valid
    monkeypatch.setattr(startup, "_templates_valid", False)
    monkeypatch.setattr(startup, "medication_request", lambda drug, diagnosis, patient: {
        "resourceType": "MedicationRequest", "status": "draft", "intent": "order", "subject": {"reference": 7}})
    with pytest.raises(StartupRefused, match=r"suggested MedicationRequest for \w+ \(AS\) is not valid FHIR R4"):
        with client(tmp_path):
            pass


@pytest.mark.parametrize("access_log", [None, "true"])
def test_the_access_log_is_off_by_default_and_cds_access_log_turns_it_on(tmp_path, access_log):
    port = free_port()
    env = {"CDS_ACCESS_LOG": access_log} if access_log else {}
    process = _serve([sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)], tmp_path, **env)
    try:
        assert _wait(f"http://127.0.0.1:{port}/readyz", process).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/cds-services").status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode(errors="replace")
    access = [json.loads(line) for line in output.splitlines()
              if line.startswith("{") and json.loads(line)["logger"] == "uvicorn.access"]
    if access_log:
        assert any("GET /cds-services HTTP/1.1" in line["msg"] and "200" in line["msg"] for line in access), output
    else:
        assert access == [], access
