"""Property-based API fuzzing with schemathesis 4 against the service's own OpenAPI document (dev mode).

Every operation in GET /openapi.json (discovery, the hook endpoint, feedback, health, readiness, metrics) is
called with generated requests, valid and invalid (schemathesis' positive and negative modes); none may answer
with a server error (5xx). Bounded by ``max_examples`` per operation so the module runs in well under 90 s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from cds import settings as dev_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app

pytestmark = pytest.mark.slow

# A module-level app: schemathesis starts its lifespan once (its ASGI transport keeps it running).
_STATE = Path(tempfile.mkdtemp(prefix="axspa-schemathesis-"))
app = create_app(dev_settings(_STATE))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    case.validate_response(response, checks=[not_a_server_error])
