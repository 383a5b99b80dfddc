"""CDS Hooks 2.0 wire models: request, discovery, response (cards) and feedback.

Requests are tolerant (unknown members and ``extension`` are kept, FHIR content stays raw JSON);
responses are strict: they enforce the 2.0 invariants so that a card that breaks the spec cannot
leave the service. Serialise responses with ``model_dump(mode="json", exclude_none=True)``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hooks.contract import HookInput, PatientData

_REF = re.compile(r"^[A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"  # FHIR R4 id: it goes into FHIR URLs, so nothing else is accepted


class _Open(BaseModel):
    """Request-side object: unknown members are accepted and kept (spec: clients may add fields)."""

    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    """Response-side object: only what 2.0 defines, plus ``extension``."""

    model_config = ConfigDict(extra="forbid")

    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _no_empty_members(self) -> "_Closed":
        # 2.0 "Use of JSON": optional members without a value are omitted, never "", [] or {}.
        for name, value in self:
            if name == "cards":
                continue
            if value == "" or value == [] or value == {}:
                raise ValueError(f"{name} must be omitted rather than empty")
        return self


# --------------------------------------------------------------------------- request


class FhirAuthorization(_Open):
    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    def __repr__(self) -> str:  # never let the token reach a log through a repr
        return "FhirAuthorization(access_token=<redacted>)"

    __str__ = __repr__


class OrderContext(_Open):
    """order-select and order-sign context. ``selections`` is required for order-select only."""

    userId: str = Field(min_length=1)
    patientId: str = Field(pattern=FHIR_ID)
    encounterId: str | None = None
    selections: list[str] | None = None
    draftOrders: dict[str, Any]

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
        if value is not None:
            for ref in value:
                if not _REF.match(ref):
                    raise ValueError(f"selection {ref!r} is not a ResourceType/id reference")
        return value


class CDSRequest(_Open):
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

    def hook_input(self, data: PatientData, today: date) -> HookInput:
        """What the clinical logic sees of this request: the order context and the patient's data."""
        return HookInput(
            hook=self.hook,  # type: ignore[arg-type]  # checked against SERVED_HOOKS before
            hook_instance=self.hookInstance,
            patient_id=self.context.patientId,
            user_id=self.context.userId,
            draft_orders=self.context.draftOrders,
            selections=self.selections,
            data=data,
            today=today,
        )

    @model_validator(mode="after")
    def _checks(self) -> "CDSRequest":
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required when fhirAuthorization is present (cds-r-1)")
        if self.hook == "order-select" and not self.context.selections:
            raise ValueError("context.selections is required for order-select")
        return self


# --------------------------------------------------------------------------- discovery


class ServiceDefinition(_Closed):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[ServiceDefinition]


# --------------------------------------------------------------------------- response


class Coding(_Closed):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str | None = None


class OverrideReason(Coding):
    display: str = Field(min_length=1)  # required for override reasons


class Source(_Closed):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Closed):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> "Action":
        if self.type == "delete":
            if not self.resourceId or self.resource is not None:
                raise ValueError("a delete action carries resourceId and no resource (cds-resp-2)")
        elif self.resource is None:
            raise ValueError(f"a {self.type} action carries the resource")
        return self


class Suggestion(_Closed):
    label: str = Field(min_length=1)
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Closed):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Card(_Closed):
    uuid: str
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _suggestion_rules(self) -> "Card":
        if self.suggestions:
            if self.selectionBehavior is None:
                raise ValueError("selectionBehavior is required when there are suggestions")
            recommended = sum(1 for s in self.suggestions if s.isRecommended)
            if self.selectionBehavior == "at-most-one" and recommended > 1:
                raise ValueError("at-most-one allows at most one recommended suggestion (cds-resp-1)")
        return self


class CDSResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cards: list[Card]
    systemActions: list[Action] | None = None


# --------------------------------------------------------------------------- feedback


class AcceptedSuggestion(_Open):
    id: str = Field(min_length=1)


class FeedbackOverrideReason(_Open):
    reason: Coding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "FeedbackOverrideReason":
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment (cds-fb-3)")
        return self


class Feedback(_Open):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: FeedbackOverrideReason | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp")
    @classmethod
    def _has_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a timezone (RFC 3339)")
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> "Feedback":
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is accepted (cds-fb-2)")
        return self


class FeedbackRequest(_Open):
    feedback: list[Feedback] = Field(min_length=1)
