"""The test plugin: the app under test (one ``api`` fixture), the seed request, a real FHIR server (sekmet), a
fault-injecting fake FHIR server, a throwaway PostgreSQL.

``api`` is a started app (lifespan run) in development mode with its own SQLite file; a module or test changes its
settings with ``@pytest.mark.api(name=value, ...)`` (a value may be a function of ``tmp_path``), e.g.
``pytestmark = pytest.mark.api(fhir_timeout_s=0.5)``.
Infra policy: when sekmet / PostgreSQL are not installed, their fixtures SKIP locally with a hint to run
`bash scripts/setup-tests.sh`, but FAIL under CI (env CI=true/1/yes) -- CI must never go green by skipping.
Helpers are importable from test modules as `from support import FaultyFhir, RecordingProxy, ...`.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # `support` is importable under any pytest import mode
    sys.path.insert(0, str(TESTS_DIR))

from hypothesis import settings as hypothesis_settings  # noqa: E402
from support import (  # noqa: E402
    FaultyFhir,
    RecordingProxy,
    SekmetServer,
    TempPostgres,
    postgres_available,
    prefetch_to_resources,
    sekmet_available,
)
from support.fhir_server import SEKMET_BIN  # noqa: E402
from support.policy import in_ci, missing_infra  # noqa: E402

# Property tests explore new examples on every local run (a counterexample is kept in .hypothesis/ and replayed);
# under CI the examples are derived from each test, so a green commit stays green and CI is never flaky.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if in_ci():
    hypothesis_settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "api(**settings): settings of the `api` fixture's app")


# ---------------------------------------------------------------------------- the app under test
@pytest.fixture
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A started app in development mode (settings from the nearest ``api`` marker), as a TestClient."""
    from cds import client

    overrides: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("api"))):  # module first, then the test's own
        overrides.update(marker.kwargs)
    values = {name: value(tmp_path) if callable(value) else value for name, value in overrides.items()}
    with client(tmp_path, **values) as test_client:
        yield test_client


# ---------------------------------------------------------------------------- seed request
@pytest.fixture
def seed_request() -> dict:
    """The seed CDS Hooks order-select request, every prefetch template satisfied (a fresh copy: mutate freely)."""
    from cds import seed_request as fresh_seed

    return fresh_seed()


# ---------------------------------------------------------------------------- sekmet (real FHIR server)
@pytest.fixture(scope="session")
def fhir_server() -> Iterator[SekmetServer]:
    """A running sekmet FHIR R4 server, shared by the session (no auth required, validation off).
    Use distinct patient ids per test when loading data; `fhir_server.base_url` ends with /fhir."""
    if not sekmet_available():
        missing_infra(f"sekmet-fhir not installed at {SEKMET_BIN}")
    server = SekmetServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seeded_fhir_server(fhir_server: SekmetServer) -> SekmetServer:
    """fhir_server with the seed request's prefetch resources loaded (Patient seed-patient, 3
    MedicationStatements, 1 Condition, 1 AllergyIntolerance). Loaded once per session; PUTs are idempotent."""
    from cds import seed_request as fresh_seed

    fhir_server.load_resources(prefetch_to_resources(fresh_seed()))
    return fhir_server


@pytest.fixture
def recording_proxy() -> Iterator[Callable[[str], RecordingProxy]]:
    """Factory: recording_proxy(upstream_base_url) -> started RecordingProxy (stopped at teardown)."""
    proxies: list[RecordingProxy] = []

    def make(upstream_base: str) -> RecordingProxy:
        p = RecordingProxy(upstream_base).start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()


# ---------------------------------------------------------------------------- fake, faulty FHIR server
@pytest.fixture
def faulty_fhir() -> Iterator[Callable[..., FaultyFhir]]:
    """Factory: faulty_fhir(mode="empty", per_type={...}, data={...}, hang_seconds=..., slow_seconds=...,
    huge_count=..., pages=..., page_size=...) -> started FaultyFhir (stopped at teardown)."""
    servers: list[FaultyFhir] = []

    def make(mode: str = "empty", **kwargs) -> FaultyFhir:
        s = FaultyFhir(mode, **kwargs).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


# ---------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """A running throwaway PostgreSQL; `postgres.url` = postgresql://axspa:axspa-test@127.0.0.1:PORT/axspa_test.
    Shared by the session: use postgres.create_database(name) for an isolated database."""
    ok, why = postgres_available()
    if not ok:
        missing_infra(f"PostgreSQL unavailable: {why}")
    pg = TempPostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
