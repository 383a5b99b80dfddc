"""CDS Hooks 2.0 request models for order-select and order-sign.

Requests are tolerant: unknown members and ``extension`` are kept, FHIR content stays raw JSON.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from service.cds._base import Open

HookName = Literal["order-select", "order-sign"]
SERVED_HOOKS: tuple[HookName, ...] = ("order-select", "order-sign")

_TYPE = re.compile(r"^[A-Z][A-Za-z]*$")
#: Longest id accepted in ``selections`` (and matched against ``draftOrders``): Epic-style draft ids run to 100-200
#: characters with dots. They are only compared with the drafts' ids and echoed in a delete action, never put in a URL.
MAX_ORDER_ID_CHARS = 256
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"  # FHIR R4 id: the patient id goes into FHIR URLs, so nothing else is accepted


class FhirAuthorization(Open):
    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    def __repr__(self) -> str:  # never let the token reach a log through a repr
        return "FhirAuthorization(access_token=<redacted>)"

    __str__ = __repr__


class OrderContext(Open):
    """order-select and order-sign context. ``selections`` is required for order-select only."""

    userId: str = Field(min_length=1)
    patientId: str = Field(pattern=FHIR_ID)
    encounterId: str | None = None
    selections: list[str] | None = None
    draftOrders: dict[str, Any]

    @field_validator("patientId")
    @classmethod
    def _not_a_dot_segment(cls, value: str) -> str:
        if value in (".", ".."):  # a valid FHIR id, but Patient/.. is the server's base and Patient/. a search
            raise ValueError("patientId must not be '.' or '..'")
        return value

    @field_validator("draftOrders")
    @classmethod
    def _draft_orders_is_bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            raise ValueError("draftOrders.entry must be an array")
        return value

    @field_validator("selections")
    @classmethod
    def _selections_are_references(cls, value: list[str] | None) -> list[str] | None:
        for ref in value or ():
            kind, slash, order_id = ref.partition("/")
            if not (slash and _TYPE.match(kind) and 0 < len(order_id) <= MAX_ORDER_ID_CHARS and order_id.isprintable()):
                raise ValueError(
                    f"selection {ref[:80]!r} is not a ResourceType/id reference (an id of 1-{MAX_ORDER_ID_CHARS} "
                    "printable characters)"
                )
        return value


class CDSRequest(Open):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: OrderContext
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @property
    def selections(self) -> tuple[str, ...]:
        return tuple(self.context.selections or ())

    @property
    def served_hook(self) -> HookName | None:
        """The hook as one this service serves, or None."""
        for hook in SERVED_HOOKS:
            if self.hook == hook:
                return hook
        return None

    @model_validator(mode="after")
    def _checks(self) -> CDSRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required when fhirAuthorization is present (cds-r-1)")
        if self.hook == "order-select" and not self.context.selections:
            raise ValueError("context.selections is required for order-select")
        return self
