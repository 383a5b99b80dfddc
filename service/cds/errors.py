"""Errors of the CDS Hooks surface, each answered with an OperationOutcome. The tree::

    CdsError                  an invocation the service refuses (``status``, ``code``, ``messages``)
     ├── BadRequest           400 invalid: not JSON, not an object, a field missing or invalid, a hook not served
     ├── UnknownService       404 not-found: no CDS service with that id
     └── RequiredDataMissing  412 not-found: conditions or medications could not be obtained

Client authentication failures are :class:`service.auth.Unauthorized` (a bare 401, no OperationOutcome).
"""

from __future__ import annotations


class CdsError(Exception):
    """An invocation the service refuses; rendered as an OperationOutcome with one issue per message."""

    status = 400
    code = "invalid"

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = messages


class BadRequest(CdsError):
    status = 400
    code = "invalid"


class UnknownService(CdsError):
    status = 404
    code = "not-found"

    def __init__(self, service_id: str) -> None:
        super().__init__(f"no CDS service with id {service_id!r}")


class RequiredDataMissing(CdsError):
    status = 412
    code = "not-found"

    def __init__(self, missing: list[str], notes: tuple[str, ...] = ()) -> None:
        super().__init__(f"required data could not be obtained: {', '.join(missing)}", *notes)
        self.missing = missing
