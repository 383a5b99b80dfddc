"""Error responses: a FHIR OperationOutcome body that names the problem, never a stack trace."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

FHIR_JSON = "application/fhir+json"


def outcome(status: int, code: str, *messages: str, severity: str = "error") -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message} for message in messages],
    }
    return Response(orjson.dumps(body), status_code=status, media_type=FHIR_JSON)


def describe_validation_error(exc: ValidationError, limit: int = 10) -> list[str]:
    """Human-readable ``location: message`` lines, without echoing the offending values."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        location = ".".join(str(part) for part in error["loc"]) or "body"
        lines.append(f"{location}: {error['msg']}")
    return lines


def bad_request(*messages: str) -> Response:
    return outcome(400, "invalid", *messages)


def json_object(raw: bytes) -> dict[str, Any] | Response:
    """Decode a request body that must be a JSON object, or the 400 that says why not."""
    if not raw:
        return bad_request("request body is empty; a JSON object is required")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return bad_request(f"request body is not valid JSON ({exc.args[0].split(':')[0]})")
    if not isinstance(document, dict):
        return bad_request("request body must be a JSON object")
    return document
