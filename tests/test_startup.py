"""The service starts as documented: ``python -m service --host --port`` and
``uvicorn service.app:create_app --factory``."""

from __future__ import annotations

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


def test_python_m_service_refuses_to_start_without_trust_configuration(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    result = subprocess.run(
        [sys.executable, "-m", "service", "--port", str(free_port())],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    assert "CDS_TRUSTED_CLIENTS" in result.stderr and "CDS_ALLOW_UNAUTHENTICATED" in result.stderr
