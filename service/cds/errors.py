"""Errors of the CDS Hooks surface, each answered with an OperationOutcome. The tree::

    CdsError                  an invocation the service refuses (``status``, ``code``, ``messages``)
     ├── BadRequest           400 invalid: not JSON, not an object, a field missing or invalid, a hook not served
     ├── UnknownService       404 not-found: no CDS service with that id
     ├── UnsupportedMediaType 415 not-supported: the body is not declared as JSON
     ├── RequiredDataMissing  412 not-found: conditions or medications could not be obtained
     └── TooManyRequests      429 throttled: the client's feedback rate limit (Retry-After says when to come back)

Client authentication failures are :class:`service.auth.Unauthorized` (a bare 401, no OperationOutcome).
"""

from __future__ import annotations

import math


class CdsError(Exception):
    """An invocation the service refuses; rendered as an OperationOutcome with one issue per message."""

    status = 400
    code = "invalid"

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages
        self.headers: dict[str, str] = {}  # response headers (Retry-After)


class BadRequest(CdsError):
    status = 400
    code = "invalid"


class UnknownService(CdsError):
    status = 404
    code = "not-found"

    def __init__(self, service_id: str) -> None:
        super().__init__(f"no CDS service with id {service_id!r}")


class UnsupportedMediaType(CdsError):
    status = 415
    code = "not-supported"

    def __init__(self, content_type: str | None) -> None:
        given = f"{content_type[:100]!r}" if content_type else "none"
        super().__init__(f"Content-Type must be application/json or application/fhir+json (UTF-8); got {given}")


class RequiredDataMissing(CdsError):
    status = 412
    code = "not-found"

    def __init__(self, missing: list[str], notes: tuple[str, ...] = ()) -> None:
        super().__init__(f"required data could not be obtained: {', '.join(missing)}", *notes)
        self.missing = missing


class TooManyRequests(CdsError):
    status = 429
    code = "throttled"

    def __init__(self, what: str, retry_after_s: float) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many {what} from this client; retry after {seconds} s")
        self.headers = {"Retry-After": str(seconds)}
