"""Error responses: a FHIR OperationOutcome body that names the problem, never a stack trace."""

from __future__ import annotations

import orjson
from starlette.responses import Response

FHIR_JSON = "application/fhir+json"


def outcome(status: int, code: str, *messages: str, severity: str = "error") -> Response:
    """An OperationOutcome response with one issue per message."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message} for message in messages],
    }
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)
